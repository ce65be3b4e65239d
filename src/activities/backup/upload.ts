/**
 * Sending the planned files: streamed from the node into storage, `concurrent_transfers` at a time,
 * heartbeating progress. The activity is resumable at file granularity: after a worker dies, the
 * retry skips every object already complete in storage (same key, same size — writes are
 * all-or-nothing), found in one listing, so finished files are never sent twice.
 */
import { setMaxListeners } from 'node:events';
import { alreadySent, commonFolder, StoredObject } from '../../plan/differential';
import { ActivityContext } from '../context';
import { classify } from '../failures';
import { filesSkipped, fileUploaded } from '../metrics';
import { step } from '../step-context';
import { stepLimiter, transferListeners } from '../live-bandwidth';
import { readPlan } from './plan';
import { NodeBackupRef, UploadProgress, UploadResult } from './types';

export const uploadedPath = (planPath: string) => planPath.replace(/plan\.json$/, 'uploaded.json');

export function makeUploadActivities(ctx: ActivityContext) {
  return {
    async uploadFiles(r: NodeBackupRef & { planPath: string }): Promise<UploadResult> {
      return classify(r.fqdn, 'upload', async () => {
        const node = await ctx.openNode(r.fqdn);
        const { signal, heartbeat } = step();
        // Every file in flight, and every part or range of it, listens to the step's signal at once.
        setMaxListeners(transferListeners(ctx.config.storage), signal);
        const timer = setInterval(() => heartbeat(progress), 2000);
        // One limit for the node's transfers, following a change made to the running backup.
        const live = stepLimiter(ctx);
        const progress: UploadProgress = { filesDone: 0, bytesDone: 0, filesTotal: 0, bytesTotal: 0 };
        try {
          const plan = await readPlan(node, r.planPath);
          const todo = plan.files.filter((f) => f.action === 'upload');
          progress.filesTotal = todo.length;
          progress.bytesTotal = todo.reduce((a, f) => a + f.size, 0);
          const result: UploadResult = { filesUploaded: 0, bytesUploaded: 0, filesAlreadyPresent: 0, bytesAlreadyPresent: 0 };
          const hashes: Record<string, string | null> = {};
          const storage = ctx.storage(r.bucketName);
          // What an earlier attempt sent, in one listing rather than a request per file.
          const present = new Map<string, StoredObject>();
          if (todo.length > 0) {
            for await (const o of storage.list(commonFolder(todo.map((f) => f.key)))) present.set(o.key, { size: o.size, hash: o.hash, lastModified: o.lastModified.getTime() });
          }
          let next = 0;
          const worker = async () => {
            while (next < todo.length) {
              signal.throwIfAborted();
              const f = todo[next++];
              if (alreadySent(present.get(f.key), f)) {
                result.filesAlreadyPresent++;
                result.bytesAlreadyPresent += f.size;
                progress.bytesDone += f.size;
                filesSkipped(r, 'already_present', 1, f.size);
              } else {
                let sent = 0;
                const options = {
                  signal,
                  limiter: live.limiter,
                  onProgress: (n: number) => {
                    progress.bytesDone += n - sent;
                    sent = n;
                  },
                };
                // On the node, parts are read by range from the file; over SSH the file arrives as one stream.
                const info = node.filesAreLocal
                  ? await storage.uploadFile(f.key, f.path, f.size, options)
                  : await storage.upload(f.key, await node.createReadStream(f.path), f.size, options);
                if (info.size !== f.size) throw new Error(`${f.path} is ${f.size} bytes on the node but ${info.size} in storage`);
                progress.bytesDone += f.size - sent;
                hashes[f.key] = info.hash;
                result.filesUploaded++;
                result.bytesUploaded += f.size;
                fileUploaded(r, f.size);
              }
              progress.filesDone++;
            }
          };
          await Promise.all(Array.from({ length: Math.max(1, ctx.config.storage.concurrentTransfers) }, worker));
          // The hashes storage reported for what this attempt sent (local storage reports none on HEAD).
          await node.writeFile(uploadedPath(r.planPath), JSON.stringify(hashes));
          heartbeat(progress);
          return result;
        } finally {
          clearInterval(timer);
          live.stop();
          await node.close();
        }
      });
    },
  };
}
