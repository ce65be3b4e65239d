/**
 * Deciding what to send. The plan — every file with its key and action — can hold tens of
 * thousands of entries, so it is written to a work file on the node (next to the data it
 * describes) and only its path and totals go back to the workflow.
 */
import { earlierVerdict, HashVerdicts, hashesMatch, isMultipartHash, multipartEtag, PlannedFile, planFiles, StoredObject } from '../../plan/differential';
import { SnapshotTable } from '../../plan/snapshot-files';
import { readQuarantine } from '../../catalogue/quarantine';
import { mapLimit } from '../../shared/map-limit';
import { createHash } from 'node:crypto';
import { NodeAccess } from '../../nodes/node-access';
import { ActivityContext } from '../context';
import { classify } from '../failures';
import { step } from '../step-context';
import { layoutFor } from './start';
import { partMd5sOfFile } from '../../nodes/local-hash';
import { partSizeFor } from '../../storage/s3-options';
import { listSnapshot, md5ManyOnNode, partMd5sOnNode } from './node-commands';
import { NodeBackupRef, PlanSummary } from './types';

export interface PlanFile {
  version: 1;
  backupName: string;
  fqdn: string;
  mode: string;
  tables: SnapshotTable[];
  files: PlannedFile[];
}

export interface PlanRequest extends NodeBackupRef {
  tag: string;
  dataDir: string;
  workDir: string;
  /** undefined: the worker's [checks] enable_md5_checks. */
  enableMd5Checks?: boolean;
}

/** Reads the plan written by planBackup; a missing plan is a PlanMissing error (the workflow plans again). */
export async function readPlan(node: NodeAccess, planPath: string): Promise<PlanFile> {
  try {
    return JSON.parse((await node.readFile(planPath)).toString('utf8')) as PlanFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const e = new Error(`the backup plan ${planPath} is gone from ${node.node}`);
    e.name = 'PlanMissing';
    throw e;
  }
}

/** Where an attempt of planBackup records the hash verdicts it reached, so that the next attempt does not hash those files again. */
export const hashCheckpointPath = (workDir: string) => `${workDir}/md5-checked.json`;

/** How often the hash verdicts reached so far are written to the checkpoint (and heartbeated as progress). */
const CHECKPOINT_MS = 5_000;

export interface HashProgress {
  hashFilesDone: number;
  hashBytesDone: number;
  hashFilesTotal: number;
  hashBytesTotal: number;
}

/**
 * Settles every `check` of the plan to `keep` or `upload` by hashing the file on the node, resumably: the verdicts
 * are written to a checkpoint in the work directory every few seconds, and a verdict an earlier attempt reached
 * for the same file at the same size is taken without hashing again. Heartbeats its progress.
 */
async function hashPlannedFiles(ctx: ActivityContext, node: NodeAccess, workDir: string, toCheck: PlannedFile[]): Promise<Pick<PlanSummary, 'hashedBytes' | 'hashSeconds'>> {
  const checkpoint = hashCheckpointPath(workDir);
  const earlier: HashVerdicts = await node.readFile(checkpoint).then((b) => JSON.parse(b.toString('utf8')) as HashVerdicts, () => ({}));
  const verdicts: HashVerdicts = {};
  const todo: PlannedFile[] = [];
  for (const f of toCheck) {
    const v = earlierVerdict(earlier, f);
    if (v) {
      f.action = v;
      verdicts[f.path] = { size: f.size, stored: f.existing!.hash!, action: v };
    } else todo.push(f);
  }
  const progress: HashProgress = { hashFilesDone: 0, hashBytesDone: 0, hashFilesTotal: todo.length, hashBytesTotal: todo.reduce((a, f) => a + f.size, 0) };
  const { heartbeat, signal } = step();
  let flushing: Promise<void> = Promise.resolve();
  let lastFlush = Date.now();
  const settle = (f: PlannedFile, action: 'keep' | 'upload') => {
    f.action = action;
    verdicts[f.path] = { size: f.size, stored: f.existing!.hash!, action };
    progress.hashFilesDone++;
    progress.hashBytesDone += f.size;
    if (Date.now() - lastFlush >= CHECKPOINT_MS) {
      lastFlush = Date.now();
      const snapshot = JSON.stringify(verdicts);
      // Best effort: a checkpoint that cannot be written costs a retry some hashing, never the plan (nor an unhandled rejection).
      flushing = flushing.then(() => node.writeFile(checkpoint, snapshot)).catch(() => undefined);
      heartbeat({ ...progress });
    }
  };
  const started = performance.now();
  const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
  // Plain MD5s in batches (one command per 200 files); multipart ETags need per-part digests.
  const plain = todo.filter((f) => !isMultipartHash(f.existing!.hash!));
  const batches = Array.from({ length: Math.ceil(plain.length / 200) }, (_, i) => plain.slice(i * 200, (i + 1) * 200));
  await mapLimit(batches, ctx.config.checks.md5CheckConcurrency, async (batch) => {
    signal.throwIfAborted();
    const sums = await md5ManyOnNode(node, batch.map((f) => f.path));
    for (const f of batch) settle(f, hashesMatch(f.existing!.hash!, sums.get(f.path) ?? '') ? 'keep' : 'upload');
  });
  // A multipart ETag needs the parts' digests only, in boto3's layout for the file's size (one read of the file).
  await mapLimit(todo.filter((f) => isMultipartHash(f.existing!.hash!)), ctx.config.checks.md5CheckConcurrency, async (f) => {
    const partSize = partSizeFor(f.size, ctx.config.storage.multipartChunkSize);
    const parts = node.filesAreLocal ? await partMd5sOfFile(f.path, partSize, signal) : await partMd5sOnNode(node, f.path, partSize);
    settle(f, hashesMatch(f.existing!.hash!, '', multipartEtag(parts, md5)) ? 'keep' : 'upload');
  });
  const hashSeconds = (performance.now() - started) / 1000;
  await flushing;
  return { hashedBytes: progress.hashBytesDone, hashSeconds: Math.round(hashSeconds * 1000) / 1000 };
}

export function makePlanActivities(ctx: ActivityContext) {
  return {
    async planBackup(r: PlanRequest): Promise<PlanSummary> {
      return classify(r.fqdn, 'plan uploads', async () => {
        const node = await ctx.openNode(r.fqdn);
        try {
          const listing = await listSnapshot(node, r.dataDir, r.tag);
          if (listing.tables.length === 0) throw new Error(`snapshot ${r.tag} has disappeared from ${r.dataDir}`);
          const layout = layoutFor(ctx, r);
          const pool = new Map<string, StoredObject>();
          if (r.mode === 'differential') {
            for await (const o of ctx.storage(r.bucketName).list(layout.dataRoot('differential', r.backupName))) pool.set(o.key, { size: o.size, hash: o.hash, lastModified: o.lastModified.getTime() });
          }
          const md5Checks = r.enableMd5Checks ?? ctx.config.checks.enableMd5Checks;
          const files = planFiles(listing.files, layout, r.mode, r.backupName, pool, md5Checks);
          if (r.mode === 'differential') {
            // Objects verify found corrupt are sent again (their stale state stays in `existing`, so the upload replaces them).
            const quarantined = await readQuarantine(ctx.storage(r.bucketName), r.prefix ?? ctx.config.storage.prefix, r.fqdn);
            for (const f of files) if (quarantined.has(f.key)) f.action = 'upload';
          }
          const toCheck = files.filter((f) => f.action === 'check');
          const hashing = await hashPlannedFiles(ctx, node, r.workDir, toCheck);
          const plan: PlanFile = { version: 1, backupName: r.backupName, fqdn: r.fqdn, mode: r.mode, tables: listing.tables, files };
          const planPath = `${r.workDir}/plan.json`;
          await node.writeFile(planPath, JSON.stringify(plan));
          const sum = (fs: PlannedFile[]) => fs.reduce((a, f) => a + f.size, 0);
          const up = files.filter((f) => f.action === 'upload');
          const kept = files.filter((f) => f.action === 'keep');
          return { planPath, files: files.length, bytes: sum(files), uploadFiles: up.length, uploadBytes: sum(up), keptFiles: kept.length, keptBytes: sum(kept), ...hashing };
        } finally {
          await node.close();
        }
      });
    },
  };
}
