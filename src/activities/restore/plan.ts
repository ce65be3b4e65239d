/**
 * Planning `medusa download` of one node backup: find it in the catalogue (refusing an unknown or
 * unfinished one), select the manifest objects (Medusa's filters), refuse anything that would
 * write outside the destination (`..`, absolute keys, symlinks inside it), and check the free
 * space on the node — all before anything is written. The plan, which can list tens of thousands
 * of files, goes to a work file on the node; the workflow only gets its path and totals.
 */
import { ApplicationFailure } from '@temporalio/common';
import { CatalogueError, getClusterBackup } from '../../catalogue/catalogue';
import { formatBytes } from '../../catalogue/index-names';
import { checkDestination, checkNoSymlinks, DownloadItem, selectDownload, UnsafePathError } from '../../plan/download';
import { Layout } from '../../plan/layout';
import { NodeAccess, shellQuote } from '../../nodes/node-access';
import { ActivityContext } from '../context';
import { classify } from '../failures';
import { DownloadPlanSummary, DownloadRef, PlanDownloadRequest } from './types';

/** The meta files Medusa puts at the top of the destination, and the keys they come from. */
export interface MetaFile {
  name: 'manifest.json' | 'schema.cql' | 'tokenmap.json';
  key: string;
  size: number;
}

export interface DownloadPlanFile {
  version: 1;
  backupName: string;
  fqdn: string;
  destination: string;
  tables: string[];
  items: DownloadItem[];
  meta: MetaFile[];
}

const nonRetryable = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);

/** Reads the plan written by planDownload; a missing plan is a PlanMissing error (the workflow plans again). */
export async function readDownloadPlan(node: NodeAccess, planPath: string): Promise<DownloadPlanFile> {
  try {
    return JSON.parse((await node.readFile(planPath)).toString('utf8')) as DownloadPlanFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const e = new Error(`the download plan ${planPath} is gone from ${node.node}`);
    e.name = 'PlanMissing';
    throw e;
  }
}

/** Sizes of the regular files below `dir` (relative paths), from one `find`; hidden temp files included. */
export async function filesBelow(node: NodeAccess, dir: string): Promise<Map<string, number>> {
  const r = await node.exec(`find ${shellQuote(dir)} -mindepth 1 -type f -printf '%s %P\\n'`);
  if (r.code !== 0) throw new Error(`find ${dir} on ${node.node}: ${r.stderr.trim().split('\n')[0] || `exit ${r.code}`}`);
  const out = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) out.set(line.slice(sp + 1), Number(line.slice(0, sp)));
  }
  return out;
}

export function makeDownloadPlanActivities(ctx: ActivityContext) {
  return {
    async planDownload(r: PlanDownloadRequest): Promise<DownloadPlanSummary> {
      return classify(r.fqdn, 'plan download', async () => {
        let destination: string;
        try {
          destination = checkDestination(r.destination);
        } catch (err) {
          throw nonRetryable((err as Error).message, 'UnsafePath');
        }
        const storage = ctx.storage(r.bucketName);
        const prefix = r.prefix ?? ctx.config.storage.prefix;
        const cluster = await getClusterBackup(storage, prefix, r.backupName).catch((err: unknown) => {
          throw err instanceof CatalogueError ? nonRetryable(err.message, 'BackupNotFound') : err;
        });
        const backup = cluster.node(r.fqdn);
        if (!backup) {
          throw nonRetryable(`backup ${r.backupName} has no backup of node ${r.fqdn} (it has ${cluster.nodes.map((n) => n.fqdn).join(', ')})`, 'BackupNotFound');
        }
        const manifest = await backup.manifest();
        if (!manifest) throw nonRetryable(`backup ${r.backupName} of ${r.fqdn} is not complete (no manifest): there is nothing to download`, 'BackupIncomplete');
        const trustHashes = !ctx.config.storage.kmsId && !ctx.config.storage.sseCKey; // with SSE-KMS or SSE-C an ETag is no MD5
        let selection;
        try {
          selection = selectDownload(manifest, { keyspaces: r.keyspaces, tables: r.tables, ignoreSystemKeyspaces: r.ignoreSystemKeyspaces }, trustHashes);
        } catch (err) {
          if (err instanceof UnsafePathError) throw nonRetryable(`backup ${r.backupName} of ${r.fqdn}: ${err.message}`, 'UnsafePath');
          throw err;
        }
        const meta = await metaFiles(ctx, r, new Layout(prefix, r.fqdn));
        const target = r.targetFqdn ?? r.fqdn;
        const node = await ctx.openNode(target);
        try {
          const isDir = await node.exec(`test -d ${shellQuote(destination)}`);
          if (isDir.code !== 0) throw nonRetryable(`${destination} is not a directory on ${target}`, 'BadInput');
          const links = await node.exec(`find ${shellQuote(destination)} -mindepth 1 -type l -printf '%P\\n'`);
          if (links.code !== 0) throw new Error(`find ${destination} on ${target}: ${links.stderr.trim().split('\n')[0]}`);
          try {
            checkNoSymlinks([...selection.items.map((i) => i.rel), ...meta.map((m) => m.name)], links.stdout.split('\n').filter(Boolean));
          } catch (err) {
            throw nonRetryable(`${destination} on ${target}: ${(err as Error).message}`, 'UnsafePath');
          }
          // Files already there with the right size (an earlier run into the same place) need no new space.
          const present = await filesBelow(node, destination);
          const needed = selection.items.filter((i) => present.get(i.rel) !== i.size).reduce((a, i) => a + i.size, 0) + meta.reduce((a, m) => a + m.size, 0);
          const free = await node.freeBytes(destination);
          if (needed > free) {
            throw nonRetryable(`not enough space in ${destination} on ${target}: ${formatBytes(needed)} needed (${needed} bytes), ${formatBytes(free)} available (${free} bytes)`, 'NotEnoughSpace');
          }
          const plan: DownloadPlanFile = {
            version: 1, backupName: r.backupName, fqdn: r.fqdn, destination, tables: selection.tables, items: selection.items, meta,
          };
          const planPath = `${r.workDir}/download-plan.json`;
          await node.writeFile(planPath, JSON.stringify(plan));
          return {
            planPath, destination, tables: selection.tables.length, files: selection.items.length,
            bytes: selection.items.reduce((a, i) => a + i.size, 0), neededBytes: needed, freeBytes: free,
          };
        } finally {
          await node.close();
        }
      });
    },

    /** Removes a download's work directory from the node (best effort: it only holds the plan). */
    async removeDownloadWorkDir(r: { fqdn: string; workDir: string }): Promise<void> {
      if (!/\/medusa-temporal\/[^/]+$/.test(r.workDir)) return; // never anything but a work directory of ours
      const node = await ctx.openNode(r.fqdn);
      try {
        await node.exec(`rm -rf -- ${shellQuote(r.workDir)}`);
      } finally {
        await node.close();
      }
    },
  };
}

/** manifest.json, schema.cql and tokenmap.json of the node backup: the meta copies, else the index copies. */
async function metaFiles(ctx: ActivityContext, r: DownloadRef, l: Layout): Promise<MetaFile[]> {
  const storage = ctx.storage(r.bucketName);
  const candidates: [MetaFile['name'], string[]][] = [
    ['manifest.json', [l.meta(r.backupName, 'manifest.json'), l.index(r.backupName, 'manifest')]],
    ['schema.cql', [l.meta(r.backupName, 'schema.cql'), l.index(r.backupName, 'schema')]],
    ['tokenmap.json', [l.meta(r.backupName, 'tokenmap.json'), l.index(r.backupName, 'tokenmap')]],
  ];
  const out: MetaFile[] = [];
  for (const [name, keys] of candidates) {
    let found: MetaFile | undefined;
    for (const key of keys) {
      const head = await storage.head(key);
      if (head) {
        found = { name, key, size: head.size };
        break;
      }
    }
    if (!found) throw nonRetryable(`backup ${r.backupName} of ${r.fqdn} has no ${name} in ${storage.description} (${keys.join(' or ')})`, 'BackupIncomplete');
    out.push(found);
  }
  return out;
}
