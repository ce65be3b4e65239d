/**
 * Fixtures for the Storage conformance suite: one factory per adapter (a fresh temp dir, or a unique
 * prefix in the sandbox bucket), and small helpers for streams and async iterables.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createLocalStorage } from '../../src/storage/local-storage';
import { createS3Storage, MEDUSA_S3_DEFAULTS, S3StorageOptions } from '../../src/storage/s3-storage';
import { Storage } from '../../src/storage/storage';
import { sandbox, uniqueId } from './env';
import { mapLimit } from '../../src/shared/map-limit';

export interface StorageSubject {
  storage: Storage;
  /** Every key of this run starts with it (`conformance/<unique>/`). */
  root: string;
  /** Whether `head` and `list` report the hash (S3: the ETag) or null (local). */
  headReportsHash: boolean;
  cleanup(): Promise<void>;
}

export type StorageFactory = () => Promise<StorageSubject>;

export const runRoot = () => `conformance/${uniqueId('run')}/`;

/** Local storage in a fresh directory under the OS temp dir. */
export const localSubject: StorageFactory = async () => {
  const basePath = mkdtempSync(join(tmpdir(), 'medusa-storage-'));
  const storage = createLocalStorage({ basePath, bucketName: 'bucket' });
  await storage.check();
  return {
    storage, root: runRoot(), headReportsHash: false,
    cleanup: async () => rmSync(basePath, { recursive: true, force: true }),
  };
};

/** Options for the sandbox bucket with Medusa's defaults, overridable. */
export function sandboxS3Options(over: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return {
    bucketName: sandbox('SANDBOX_S3_BUCKET'),
    endpoint: sandbox('SANDBOX_S3_ENDPOINT'),
    region: sandbox('SANDBOX_S3_REGION'),
    forcePathStyle: true,
    credentials: { accessKeyId: sandbox('SANDBOX_S3_ACCESS_KEY_ID'), secretAccessKey: sandbox('SANDBOX_S3_SECRET_ACCESS_KEY') },
    ...MEDUSA_S3_DEFAULTS,
    ...over,
  };
}

/** The sandbox bucket (shared with other runs, hence the unique root), emptied of this run's keys afterwards. */
export const s3Subject: StorageFactory = async () => {
  const storage = createS3Storage(sandboxS3Options());
  const root = runRoot();
  return {
    storage, root, headReportsHash: true,
    cleanup: async () => {
      await deleteAll(storage, root);
      await storage.close();
    },
  };
};

export async function deleteAll(storage: Storage, prefix: string): Promise<void> {
  const keys = (await collect(storage.list(prefix))).map((o) => o.key);
  await mapLimit(keys, 32, (k) => storage.delete(k));
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export { mapLimit };

/** A stream the test feeds by hand, to hold an upload half-way. */
export function pushable(): { body: Readable; push(b: Buffer): void; end(): void; fail(err: Error): void } {
  const body = new Readable({ read() { /* data arrives through push() */ } });
  return { body, push: (b) => body.push(b), end: () => body.push(null), fail: (err) => body.destroy(err) };
}

/** `data` cut into uneven pieces (1, 7, 64 KiB + 3, then `step`-byte pieces), as no real source would. */
export function unevenStream(data: Buffer, step = 1_000_003): Readable {
  const cuts = [1, 8, 8 + 65_539];
  for (let at = cuts[cuts.length - 1] + step; at < data.length; at += step) cuts.push(at);
  const pieces = [0, ...cuts.filter((c) => c < data.length), data.length]
    .map((c, i, all) => data.subarray(c, all[i + 1] ?? c))
    .filter((p) => p.length > 0);
  return Readable.from(pieces);
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** The ETag S3 gives an object uploaded the way boto3 does it (and Medusa's verify recomputes). */
export function expectedEtag(data: Buffer, threshold: number, chunk: number): string {
  if (data.length < threshold) return md5hex(data);
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunk) parts.push(createHash('md5').update(data.subarray(at, at + chunk)).digest());
  return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
}
