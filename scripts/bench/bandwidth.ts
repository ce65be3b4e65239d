/**
 * `npm run bench -- --bandwidth [MiB/s]`: whether `transfer_max_bandwidth` holds, on each storage backend (the
 * sandbox's local directory and its S3 server), uploads and downloads alike, as the node steps use it: one limiter
 * shared by `concurrent_transfers` files in flight. Each transfer runs 30 s: 15 s at the limit, then, changed while it
 * runs (as the update setTransferMaxBandwidth does), 15 s at twice the limit. Prints, per half, the rate asked and the
 * rate measured as the bytes the transfers read through the limiter, and the error. Asserts nothing.
 */
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageFromConfig } from '../../src/activities/context';
import { createAdjustableLimiter, BandwidthLimiter } from '../../src/storage/bandwidth-limiter';
import { Storage } from '../../src/storage/storage';
import { mapLimit } from '../../src/shared/map-limit';
import { sandboxConfig } from '../../test/support/backup-harness';

const MiB = 1024 * 1024;
const HALF_MS = 15_000;

interface Half { asked: number; measured: number }

/** Runs `transfer(limiter)` with the limit `rate`, doubled after 15 s, and measures what went through in each half. */
async function twoHalves(rate: number, transfer: (limiter: BandwidthLimiter, signal: AbortSignal) => Promise<void>): Promise<Half[]> {
  const inner = createAdjustableLimiter(rate);
  let through = 0;
  const counting: BandwidthLimiter = {
    async take(bytes, signal) {
      await inner.take(bytes, signal);
      through += bytes;
    },
  };
  const stop = new AbortController();
  setMaxListeners(100, stop.signal);
  const t0 = performance.now();
  const marks: { t: number; bytes: number }[] = [];
  // The first second is the bucket's burst: measured from 1 s on.
  const first = setTimeout(() => marks.push({ t: performance.now(), bytes: through }), 1000);
  const change = setTimeout(() => {
    marks.push({ t: performance.now(), bytes: through });
    inner.setRate(2 * rate);
    setTimeout(() => marks.push({ t: performance.now(), bytes: through }), 1000); // the new rate's own burst left out too
  }, HALF_MS);
  const end = setTimeout(() => {
    marks.push({ t: performance.now(), bytes: through });
    stop.abort();
  }, 2 * HALF_MS);
  try {
    await transfer(counting, stop.signal).catch((err: Error) => {
      if (!stop.signal.aborted) throw err;
    });
  } finally {
    clearTimeout(first); clearTimeout(change); clearTimeout(end);
  }
  if (marks.length < 4) throw new Error(`the transfer ended after ${((performance.now() - t0) / 1000).toFixed(1)} s, before the 30 s it should last: more data needed`);
  const rateOf = (a: { t: number; bytes: number }, b: { t: number; bytes: number }) => (b.bytes - a.bytes) / ((b.t - a.t) / 1000);
  return [{ asked: rate, measured: rateOf(marks[0], marks[1]) }, { asked: 2 * rate, measured: rateOf(marks[2], marks[3]) }];
}

export async function runBandwidthBench(mibPerSecond: number, transfers: number): Promise<string> {
  const rate = mibPerSecond * MiB;
  // Enough for 30 s at up to twice the rate: files of 64 MiB (multipart on S3), `transfers` at once.
  const fileSize = 64 * MiB;
  const files = Math.ceil((2 * rate * 2 * HALF_MS / 1000) / fileSize) + transfers;
  const dir = mkdtempSync(join(tmpdir(), 'bench-bw-'));
  const source = join(dir, 'source');
  writeFileSync(source, randomBytes(fileSize));
  const prefix = `bench-bw-${Date.now().toString(36)}`;
  const rows: string[] = ['| storage | direction | asked MiB/s | measured MiB/s | error |', '|---|---|---|---|---|'];
  try {
    for (const kind of ['local', 's3'] as const) {
      const storage: Storage = storageFromConfig(sandboxConfig(kind).storage);
      const keys = Array.from({ length: files }, (_, i) => `${prefix}/f${i}`);
      process.stderr.write(`bench: bandwidth on ${storage.description}: upload of up to ${files} × 64 MiB at ${mibPerSecond} then ${2 * mibPerSecond} MiB/s\n`);
      const up = await twoHalves(rate, (limiter, signal) => mapLimit(keys, transfers, async (k) => {
        await storage.uploadFile(k, source, fileSize, { limiter, signal });
      }).then(() => undefined));
      // What the upload did not reach is sent unthrottled, so the download has its files.
      await mapLimit(keys, transfers, async (k) => {
        if (!(await storage.head(k))) await storage.uploadFile(k, source, fileSize);
      });
      process.stderr.write(`bench: bandwidth on ${storage.description}: download\n`);
      const down = await twoHalves(rate, (limiter, signal) => mapLimit(keys.map((k, i) => ({ k, i })), transfers, async ({ k, i }) => {
        const to = join(dir, `d${i}`);
        await storage.downloadToFile(k, to, fileSize, { limiter, signal });
        rmSync(to, { force: true });
      }).then(() => undefined));
      for (const [direction, halves] of [['upload', up], ['download', down]] as const) {
        for (const h of halves) {
          rows.push(`| ${kind} | ${direction} | ${(h.asked / MiB).toFixed(1)} | ${(h.measured / MiB).toFixed(2)} | ${(((h.measured - h.asked) / h.asked) * 100).toFixed(1)} % |`);
        }
      }
      for (const k of keys) await storage.delete(k);
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return `transfer_max_bandwidth: ${transfers} files in flight sharing one limit, changed after 15 s of 30\n\n${rows.join('\n')}\n`;
}
