/**
 * Downloading a planned node backup onto the node: each object streamed from storage straight
 * into its file on the node (no copy on the worker's disk), `concurrent_transfers` at a time,
 * checked against the manifest while it streams — size, and MD5 where the manifest has one — and
 * renamed into place only once it checked out, heartbeating progress. Then manifest.json,
 * schema.cql and tokenmap.json go to the top of the destination, as Medusa puts them.
 *
 * Resumable at file granularity: a file is at its final path only if it was complete and checked,
 * so after a worker dies the retry keeps every file already there with the right size (and the
 * right MD5, hashed on the node, where the manifest has one) and downloads only the rest; the
 * temp files the dead attempt left are removed.
 */
import { setMaxListeners } from 'node:events';
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { writeLocalFileAtomically } from '../../nodes/local-node-access';
import { NodeAccess, shellQuote } from '../../nodes/node-access';
import { DownloadItem } from '../../plan/download';
import { mapLimit } from '../../shared/map-limit';
import { md5ManyOnNode } from '../backup/node-commands';
import { ActivityContext } from '../context';
import { classify } from '../failures';
import { step } from '../step-context';
import { stepLimiter, transferListeners } from '../live-bandwidth';
import { filesBelow, readDownloadPlan } from './plan';
import { DownloadProgress, DownloadResult } from './types';

/** The content of an object did not match its manifest entry (twice in a row): the stored object is not what was backed up. */
class ChecksumMismatch extends Error {
  override name = 'ChecksumMismatch';
}

/** Temp siblings written by NodeAccess.writeStream (temp-path.ts): `.name.<12 hex>.tmp`. */
const TEMP_SIBLING = /^(.*\/)?\.([^/]+)\.[0-9a-f]{12}\.tmp$/;

/** `body` passed through, counted and hashed; fails before its end when it is not exactly the item's bytes. */
function checked(body: Readable, item: DownloadItem, onBytes: (n: number) => void): Readable {
  const md5 = createHash('md5');
  let size = 0;
  // A Transform, not an async generator: a promise per chunk costs more than the hashing saves (~0.15 s a GiB).
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > item.size) return done(new ChecksumMismatch(`${item.key}: more than the ${item.size} bytes of the manifest`));
      md5.update(chunk);
      onBytes(chunk.length);
      done(null, chunk);
    },
    flush(done) {
      if (size !== item.size) return done(new ChecksumMismatch(`${item.key}: ${size} bytes downloaded, ${item.size} in the manifest`));
      const got = md5.digest('hex');
      if (item.md5 && got !== item.md5) return done(new ChecksumMismatch(`${item.key}: MD5 ${got} downloaded, ${item.md5} in the manifest`));
      done();
    },
  });
  // The body's failure is the stream's (a reset connection), as it was the generator's.
  body.once('error', (err) => out.destroy(err));
  return body.pipe(out);
}

/** Removes temp files of planned files left by an attempt that died. */
async function removeStaleTemps(node: NodeAccess, destination: string, present: Map<string, number>, planned: Set<string>): Promise<void> {
  const stale = [...present.keys()].filter((p) => {
    const m = TEMP_SIBLING.exec(p);
    return m !== null && planned.has(`${m[1] ?? ''}${m[2]}`);
  });
  for (let i = 0; i < stale.length; i += 200) {
    await node.exec(`rm -f -- ${stale.slice(i, i + 200).map((p) => shellQuote(`${destination}/${p}`)).join(' ')}`);
  }
}

export function makeDownloadActivities(ctx: ActivityContext) {
  return {
    async downloadFiles(r: { fqdn: string; bucketName?: string; planPath: string }): Promise<DownloadResult> {
      return classify(r.fqdn, 'download', async () => {
        const node = await ctx.openNode(r.fqdn);
        const { signal, heartbeat } = step();
        // Every file in flight, and every part or range of it, listens to the step's signal at once.
        setMaxListeners(transferListeners(ctx.config.storage), signal);
        const progress: DownloadProgress = { filesDone: 0, bytesDone: 0, filesTotal: 0, bytesTotal: 0 };
        const timer = setInterval(() => heartbeat(progress), 2000);
        // One limit for the node's transfers, following a change made to the running download.
        const live = stepLimiter(ctx);
        try {
          const plan = await readDownloadPlan(node, r.planPath);
          const dest = plan.destination;
          progress.filesTotal = plan.items.length;
          progress.bytesTotal = plan.items.reduce((a, i) => a + i.size, 0);
          const result: DownloadResult = { filesDownloaded: 0, bytesDownloaded: 0, filesAlreadyPresent: 0, bytesAlreadyPresent: 0, filesMd5Checked: 0 };

          // What an earlier attempt (or run) finished: the right size, and the right MD5 where the manifest has one.
          const present = await filesBelow(node, dest);
          await removeStaleTemps(node, dest, present, new Set(plan.items.map((i) => i.rel)));
          const sized = plan.items.filter((i) => present.get(i.rel) === i.size);
          const done = new Set(sized.filter((i) => !i.md5).map((i) => i.rel));
          const toHash = sized.filter((i) => i.md5);
          const batches = Array.from({ length: Math.ceil(toHash.length / 200) }, (_, k) => toHash.slice(k * 200, (k + 1) * 200));
          await mapLimit(batches, ctx.config.checks.md5CheckConcurrency, async (batch) => {
            const sums = await md5ManyOnNode(node, batch.map((i) => `${dest}/${i.rel}`));
            for (const i of batch) {
              if (sums.get(`${dest}/${i.rel}`) === i.md5) {
                done.add(i.rel);
                result.filesMd5Checked++;
              }
            }
          });
          for (const i of plan.items.filter((x) => done.has(x.rel))) {
            result.filesAlreadyPresent++;
            result.bytesAlreadyPresent += i.size;
            progress.filesDone++;
            progress.bytesDone += i.size;
          }
          heartbeat(progress);

          const storage = ctx.storage(r.bucketName);
          const fetchOne = async (item: DownloadItem) => {
            let counted = 0;
            if (node.filesAreLocal && !item.md5) {
              // On the node, an object with no plain MD5 to check (a multipart ETag) comes in parallel ranges written in place.
              try {
                await writeLocalFileAtomically(`${dest}/${item.rel}`, async (tmp) => {
                  const stored = await storage.downloadToFile(item.key, tmp, item.size, {
                    signal,
                    limiter: live.limiter,
                    onProgress: (n) => {
                      progress.bytesDone += n - counted;
                      counted = n;
                    },
                  });
                  if (stored !== item.size) throw new ChecksumMismatch(`${item.key}: ${stored} bytes in storage, ${item.size} in the manifest`);
                }, signal, false);
              } catch (err) {
                progress.bytesDone -= counted;
                throw err;
              }
              return;
            }
            const body = await storage.download(item.key, { limiter: live.limiter });
            try {
              await node.writeStream(`${dest}/${item.rel}`, checked(body, item, (n) => {
                counted += n;
                progress.bytesDone += n;
              }), { signal });
            } catch (err) {
              if (!body.destroyed) body.destroy();
              progress.bytesDone -= counted;
              throw err;
            }
          };
          await mapLimit(plan.items.filter((i) => !done.has(i.rel)), Math.max(1, ctx.config.storage.concurrentTransfers), async (item) => {
            signal.throwIfAborted();
            try {
              await fetchOne(item);
            } catch (err) {
              // A corrupted transfer is tried once more; the same mismatch twice means the stored object is wrong.
              if (!(err instanceof ChecksumMismatch)) throw err;
              try {
                await fetchOne(item);
              } catch (again) {
                if (again instanceof ChecksumMismatch) throw ApplicationFailure.nonRetryable(`${r.fqdn}: download: ${again.message}`, 'ChecksumMismatch');
                throw again;
              }
            }
            if (item.md5) result.filesMd5Checked++;
            result.filesDownloaded++;
            result.bytesDownloaded += item.size;
            progress.filesDone++;
          });

          // Medusa's meta files at the top of the destination, as stored.
          for (const m of plan.meta) {
            const bytes = await storage.getBytes(m.key);
            if (!bytes) throw new Error(`${m.key} has disappeared from ${storage.description}`);
            await node.writeFile(`${dest}/${m.name}`, bytes);
          }
          // Files are not flushed one by one (fsync per file cost ~1.8 s a GiB here): the destination is, once, before
          // the step reports done. A retry after a crash of the machine re-checks every size (and MD5 where known).
          const flushed = await node.exec(`sync -f ${shellQuote(dest)}`, { signal });
          if (flushed.code !== 0) throw new Error(`sync -f ${dest} failed on ${node.node}: ${flushed.stderr.trim().split('\n')[0]}`);
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
