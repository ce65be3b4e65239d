/**
 * Hashing a file of this machine: the MD5 of each part of a multipart layout, as S3 computed them for the ETag
 * `<md5 of the part md5s>-<n>`. Used where the node's files are local (on the node itself), instead of piping the file
 * through `split --filter=md5sum`, which copies every byte through a pipe and starts a process per part.
 *
 * The parts are independent, so they are hashed at once on a few threads (at most one per core, and no more than
 * {@link MAX_HASH_THREADS}): one file's check still reads one file, as `md5_check_concurrency` counts them, but
 * no longer on one core, and not on the thread that runs the worker (its heartbeats and polls stay on time).
 */
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Threads hashing parts at most, whatever the number of cores. */
export const MAX_HASH_THREADS = 4;

/**
 * What a hashing thread runs (plain JavaScript, evaluated: the same under tsx and compiled): for each request
 * `{id, path, start, length}`, the MD5 of those bytes of the file, read 1 MiB at a time.
 */
const THREAD_CODE = `
const { parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const buf = Buffer.allocUnsafe(1024 * 1024);
parentPort.on('message', ({ id, path, start, length }) => {
  let fd;
  try {
    fd = openSync(path, 'r');
    const h = createHash('md5');
    let pos = start;
    let left = length;
    while (left > 0) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, left), pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
      left -= n;
    }
    parentPort.postMessage({ id, md5: h.digest('hex'), short: left });
  } catch (err) {
    parentPort.postMessage({ id, error: err.message, code: err.code });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
});
`;

interface Reply { id: number; md5?: string; short?: number; error?: string; code?: string }

/** A hashing thread, taken by one part at a time; it keeps the process alive only while it hashes. */
class HashThread {
  private readonly worker = new Worker(THREAD_CODE, { eval: true });
  private pending?: { id: number; resolve: (r: Reply) => void; reject: (e: Error) => void };
  dead = false;
  /** Set while the thread waits in the idle list: it ends after {@link IDLE_THREAD_MS} unused. */
  idleTimer?: NodeJS.Timeout;

  constructor() {
    this.worker.on('message', (r: Reply) => {
      const p = this.pending;
      if (p && p.id === r.id) {
        this.pending = undefined;
        this.worker.unref();
        p.resolve(r);
      }
    });
    const fail = (err: Error) => {
      this.dead = true;
      this.pending?.reject(err);
      this.pending = undefined;
    };
    this.worker.on('error', fail);
    this.worker.on('exit', () => fail(new Error('the hashing thread ended')));
    // Idle until asked (after the listeners, which would otherwise hold the process open again).
    this.worker.unref();
  }

  hash(id: number, path: string, start: number, length: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject };
      // Held open while it hashes (the caller waits for it), let go when idle.
      this.worker.ref();
      this.worker.postMessage({ id, path, start, length });
    });
  }

  /** Stops a part in the middle (an aborted check): the thread is not reused. */
  kill(): void {
    this.dead = true;
    void this.worker.terminate();
  }
}

/** How long an unused hashing thread is kept for the next part. */
const IDLE_THREAD_MS = 10_000;

/** Idle threads, shared by every check of this process. */
const idle: HashThread[] = [];
let nextId = 0;

function threadCount(parts: number): number {
  return Math.max(1, Math.min(parts, MAX_HASH_THREADS, availableParallelism()));
}

/** Hex MD5 of every `partSize` bytes of the file at `path` (the last part shorter; none for an empty file). */
export async function partMd5sOfFile(path: string, partSize: number, signal?: AbortSignal): Promise<string[]> {
  if (!(partSize > 0)) throw new RangeError(`partSize must be > 0, not ${partSize}`);
  signal?.throwIfAborted();
  const fh = await open(path, 'r');
  let size: number;
  try {
    size = (await fh.stat()).size;
  } finally {
    await fh.close();
  }
  const count = Math.ceil(size / partSize);
  if (count === 0) return [];
  if (count === 1) return [await md5OfRange(path, 0, size, signal)];
  const parts: string[] = new Array<string>(count);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < count; i = next++) {
      const start = i * partSize;
      parts[i] = await md5OfRange(path, start, Math.min(partSize, size - start), signal);
    }
  };
  await Promise.all(Array.from({ length: threadCount(count) }, lane));
  return parts;
}

/** MD5 of `length` bytes of `path` from `start`, on a hashing thread; fails if the file is shorter than that. */
async function md5OfRange(path: string, start: number, length: number, signal?: AbortSignal): Promise<string> {
  signal?.throwIfAborted();
  let thread = idle.pop();
  while (thread?.dead) thread = idle.pop();
  const t = thread ?? new HashThread();
  clearTimeout(t.idleTimer);
  const onAbort = () => t.kill();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const r = await t.hash(nextId++, path, start, length);
    if (r.error !== undefined) throw Object.assign(new Error(`${path}: ${r.error}`), { code: r.code });
    // The file shrank since its size was read: its parts are not the ones stored.
    if (r.short) throw new Error(`${path}: ${r.short} bytes shorter than when its size was read`);
    return r.md5!;
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!t.dead) {
      idle.push(t);
      t.idleTimer = setTimeout(() => {
        const at = idle.indexOf(t);
        if (at >= 0) idle.splice(at, 1);
        t.kill();
      }, IDLE_THREAD_MS).unref();
    }
  }
}
