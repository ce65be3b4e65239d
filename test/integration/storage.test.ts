/**
 * The Storage port's contract, written once and run against both adapters: local (a temp dir) and
 * S3 (the sandbox's versitygw, under a unique prefix). Then what only one adapter has: S3's
 * multipart ETags and error mapping, the local adapter's files on disk.
 */
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalStorage } from '../../src/storage/local-storage';
import { createS3Storage } from '../../src/storage/s3-storage';
import { Storage, StorageConfigError } from '../../src/storage/storage';
import { sandbox, uniqueId } from '../support/env';
import {
  collect, deleteAll, expectedEtag, localSubject, mapLimit, md5hex, pushable, runRoot, s3Subject, sandboxS3Options,
  StorageFactory, StorageSubject, unevenStream, waitFor,
} from '../support/storage-fixtures';

const MiB = 1024 * 1024;

async function expectConfigError(p: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e as Error);
  expect(err).toBeInstanceOf(StorageConfigError);
  expect(err?.message).toMatch(message);
  expect(err?.message).not.toContain('\n');
}

function conformance(factory: StorageFactory): void {
  let s: StorageSubject;
  let storage: Storage;
  const key = (k: string) => `${s.root}${k}`;
  const keysUnder = async (prefix: string) => (await collect(storage.list(key(prefix)))).map((o) => o.key.slice(s.root.length)).sort();

  beforeAll(async () => { s = await factory(); storage = s.storage; });
  afterAll(async () => { await s?.cleanup(); });

  test('check() passes', async () => {
    await storage.check();
  });

  test('putBytes, head and getBytes round trip with size, date and MD5', async () => {
    const data = randomBytes(1000);
    const before = Date.now();
    const put = await storage.putBytes(key('round/trip.bin'), data);
    expect(put).toMatchObject({ key: key('round/trip.bin'), size: 1000, hash: md5hex(data) });
    // S3 dates have one-second resolution.
    expect(put.lastModified.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(put.lastModified.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    const head = await storage.head(key('round/trip.bin'));
    expect(head).toEqual({ ...put, hash: s.headReportsHash ? md5hex(data) : null });
    expect((await storage.getBytes(key('round/trip.bin')))?.equals(data)).toBe(true);
    const text = await storage.putBytes(key('round/text.txt'), 'héllo');
    expect(text).toMatchObject({ size: 6, hash: md5hex(Buffer.from('héllo')) });
    expect((await storage.getBytes(key('round/text.txt')))?.toString()).toBe('héllo');
  });

  test('a missing key: head and getBytes give undefined, download rejects', async () => {
    expect(await storage.head(key('missing/nothing'))).toBeUndefined();
    expect(await storage.getBytes(key('missing/nothing'))).toBeUndefined();
    await expect(storage.download(key('missing/nothing'))).rejects.toThrow(/nothing/);
  });

  test('list is a prefix match, not a directory match, and includes nested keys', async () => {
    const all = ['ab', 'abc/x', 'abc/y/z', 'abd', 'b/c', 'a'].map((k) => `tree/${k}`);
    await mapLimit(all, 8, (k) => storage.putBytes(key(k), k));
    expect(await keysUnder('tree/')).toEqual([...all].sort());
    expect(await keysUnder('tree/ab')).toEqual(['tree/ab', 'tree/abc/x', 'tree/abc/y/z', 'tree/abd']);
    expect(await keysUnder('tree/abc')).toEqual(['tree/abc/x', 'tree/abc/y/z']);
    expect(await keysUnder('tree/abc/')).toEqual(['tree/abc/x', 'tree/abc/y/z']);
    expect(await keysUnder('tree/zz')).toEqual([]);
    expect(await keysUnder('nowhere/')).toEqual([]);
    const [one] = await collect(storage.list(key('tree/abd')));
    expect(one).toMatchObject({ size: 8, hash: s.headReportsHash ? md5hex(Buffer.from('tree/abd')) : null });
    expect(one.lastModified).toBeInstanceOf(Date);
  });

  test('list returns all of more than 1000 keys (S3 pages at 1000)', async () => {
    const many = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    await mapLimit(many, 32, (k) => storage.putBytes(key(k), 'x'));
    expect(await keysUnder('many/')).toEqual(many);
  });

  test('upload streams an object of any chunking and reports progress', async () => {
    const data = randomBytes(3 * MiB + 17);
    const progress: number[] = [];
    const info = await storage.upload(key('up/stream.bin'), unevenStream(data), data.length, { onProgress: (n) => progress.push(n) });
    expect(info).toMatchObject({ key: key('up/stream.bin'), size: data.length, hash: md5hex(data) });
    expect(progress[progress.length - 1]).toBe(data.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect((await storage.getBytes(key('up/stream.bin')))?.equals(data)).toBe(true);
    expect(Buffer.concat(await collect(await storage.download(key('up/stream.bin')))).equals(data)).toBe(true);
  });

  test('an upload in progress is invisible until it completes', async () => {
    const src = pushable();
    const done = storage.upload(key('partial/obj'), src.body, 2000);
    src.push(Buffer.alloc(1000, 1));
    await waitFor(() => src.body.readableLength === 0, 'the first half to be consumed');
    expect(await storage.head(key('partial/obj'))).toBeUndefined();
    expect(await keysUnder('partial/')).toEqual([]);
    src.push(Buffer.alloc(1000, 2));
    src.end();
    expect((await done).size).toBe(2000);
    expect(await keysUnder('partial/')).toEqual(['partial/obj']);
  });

  test('an upload whose stream does not have the declared size fails and leaves nothing', async () => {
    await expect(storage.upload(key('short/obj'), unevenStream(randomBytes(100)), 101)).rejects.toThrow(/100/);
    expect(await keysUnder('short/')).toEqual([]);
  });

  test('an aborted upload rejects with AbortError and leaves no object, not even in list', async () => {
    const src = pushable();
    const ac = new AbortController();
    const done = storage.upload(key('aborted/obj'), src.body, 10_000, { signal: ac.signal });
    src.push(Buffer.alloc(4000, 1));
    await waitFor(() => src.body.readableLength === 0, 'the data to be consumed');
    ac.abort();
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    expect(await storage.head(key('aborted/obj'))).toBeUndefined();
    expect(await keysUnder('aborted/')).toEqual([]);
  });

  test('uploadFile sends a file of this machine and reports its size and hash; downloadToFile writes it back', async () => {
    const data = randomBytes(2 * MiB + 5);
    const dir = mkdtempSync(join(tmpdir(), 'storage-file-'));
    writeFileSync(join(dir, 'in.db'), data);
    const progress: number[] = [];
    const info = await storage.uploadFile(key('file/in.db'), join(dir, 'in.db'), data.length, { onProgress: (n) => progress.push(n) });
    expect(info).toEqual({ size: data.length, hash: md5hex(data) });
    expect(progress.at(-1)).toBe(data.length);
    expect((await storage.head(key('file/in.db')))?.size).toBe(data.length);
    expect(await storage.downloadToFile(key('file/in.db'), join(dir, 'out.db'), data.length)).toBe(data.length);
    expect(readFileSync(join(dir, 'out.db')).equals(data)).toBe(true);
    // A file that is not the planned size is refused and nothing is stored.
    await expect(storage.uploadFile(key('file/wrong.db'), join(dir, 'in.db'), data.length + 1)).rejects.toThrow(/not the planned/);
    expect(await keysUnder('file/wrong')).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('delete removes an object; deleting a missing one is fine', async () => {
    await storage.putBytes(key('del/obj'), 'x');
    await storage.delete(key('del/obj'));
    expect(await storage.head(key('del/obj'))).toBeUndefined();
    await storage.delete(key('del/obj'));
    await storage.delete(key('del/never-was'));
  });
}

describe.each<[string, StorageFactory]>([['local', localSubject], ['s3', s3Subject]])('%s storage: the Storage contract', (_name, factory) => {
  conformance(factory);
});

describe('s3 storage: Medusa-compatible multipart, errors, throttling', () => {
  const part = 5 * MiB; // S3's minimum part size, as threshold and chunk size
  const root = runRoot();
  const storage = createS3Storage(sandboxS3Options({ multipartThreshold: part, multipartChunkSize: part, multipartConcurrency: 2 }));
  const raw = () => {
    const o = sandboxS3Options();
    return new S3Client({ endpoint: o.endpoint, region: o.region, forcePathStyle: true, credentials: o.credentials });
  };
  afterAll(async () => { await deleteAll(storage, root); await storage.close(); });

  test.each([[12, '-3'], [6, '-2'], [5, '-1'], [4, '']])('a %d MiB object gets the ETag boto3 would give it (%s)', async (mib, suffix) => {
    const data = randomBytes(mib * MiB);
    const info = await storage.upload(`${root}etag/${mib}`, unevenStream(data), data.length);
    const etag = expectedEtag(data, part, part);
    expect(etag.endsWith(suffix) && (suffix !== '' || !etag.includes('-'))).toBe(true);
    expect(info).toMatchObject({ size: data.length, hash: etag });
    expect((await storage.head(`${root}etag/${mib}`))?.hash).toBe(etag);
    expect((await collect(storage.list(`${root}etag/${mib}`)))[0].hash).toBe(etag);
    expect((await storage.getBytes(`${root}etag/${mib}`))?.equals(data)).toBe(true);
    // versitygw keeps the object as a plain file: the bytes really are what was sent.
    expect(readFileSync(join(sandbox('SANDBOX_S3_DATA_DIR'), sandbox('SANDBOX_S3_BUCKET'), root, 'etag', String(mib))).equals(data)).toBe(true);
  });

  test('a file sent by range has the ETag boto3 would give it, and comes back whole in parallel ranges', async () => {
    const data = randomBytes(12 * MiB + 3);
    const dir = mkdtempSync(join(tmpdir(), 'storage-range-'));
    writeFileSync(join(dir, 'big.db'), data);
    const info = await storage.uploadFile(`${root}range/big.db`, join(dir, 'big.db'), data.length);
    expect(info).toEqual({ size: data.length, hash: expectedEtag(data, part, part) });
    expect((await storage.head(`${root}range/big.db`))?.hash).toBe(info.hash);
    expect(await storage.downloadToFile(`${root}range/big.db`, join(dir, 'back.db'), data.length)).toBe(data.length);
    expect(readFileSync(join(dir, 'back.db')).equals(data)).toBe(true);
    // An object larger than expected is reported with its real size, not silently cut.
    expect(await storage.downloadToFile(`${root}range/big.db`, join(dir, 'cut.db'), data.length - 1)).toBe(data.length);
    rmSync(dir, { recursive: true, force: true });
  });

  async function inProgressUploads(prefix: string): Promise<number> {
    const client = raw();
    try {
      const r = await client.send(new ListMultipartUploadsCommand({ Bucket: sandbox('SANDBOX_S3_BUCKET'), Prefix: prefix }));
      return r.Uploads?.length ?? 0;
    } finally {
      client.destroy();
    }
  }

  test('aborting mid-multipart leaves no object and no multipart upload in progress', async () => {
    const src = pushable();
    const ac = new AbortController();
    let sent = 0;
    const done = storage.upload(`${root}mp-abort/obj`, src.body, 12 * MiB, { signal: ac.signal, onProgress: (n) => { sent = n; } });
    src.push(randomBytes(7 * MiB));
    await waitFor(() => sent >= part, 'the first part to be stored');
    expect(await inProgressUploads(`${root}mp-abort/`)).toBe(1);
    ac.abort();
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    expect(await storage.head(`${root}mp-abort/obj`)).toBeUndefined();
    expect(await inProgressUploads(`${root}mp-abort/`)).toBe(0);
  });

  test.each([
    ['mid-multipart', 'mp-fail', 50],
    // Before CreateMultipartUpload has answered: the error must reach the caller, not crash the process.
    ['before the upload is created', 'mp-fail-early', 0],
  ])('a source stream that fails %s fails the upload and leaves nothing behind', async (_when, dir, delayMs) => {
    const src = pushable();
    const done = storage.upload(`${root}${dir}/obj`, src.body, 12 * MiB);
    src.push(randomBytes(6 * MiB));
    if (delayMs === 0) src.fail(new Error('disk read failed'));
    else setTimeout(() => src.fail(new Error('disk read failed')), delayMs);
    await expect(done).rejects.toThrow('disk read failed');
    expect(await storage.head(`${root}${dir}/obj`)).toBeUndefined();
    expect(await inProgressUploads(`${root}${dir}/`)).toBe(0);
  });

  test('check() names a bucket that does not exist, in one line', async () => {
    const bucket = uniqueId('medusa-missing').toLowerCase();
    const missing = createS3Storage(sandboxS3Options({ bucketName: bucket }));
    await expectConfigError(missing.check(), new RegExp(`^bucket ${bucket} does not exist at ${sandbox('SANDBOX_S3_ENDPOINT')}$`));
    // Outside check() too, a missing bucket is a configuration error, not something to retry.
    await expectConfigError(missing.putBytes('x', 'x'), /does not exist/);
    await missing.close();
  });

  test('check() says the credentials were refused, in one line', async () => {
    const creds = { accessKeyId: sandbox('SANDBOX_S3_ACCESS_KEY_ID'), secretAccessKey: 'not-the-secret' };
    const wrong = createS3Storage(sandboxS3Options({ credentials: creds }));
    await expectConfigError(wrong.check(), /^S3 refused the credentials for bucket medusa-sandbox at http:\/\/\S+ \(SignatureDoesNotMatch\)$/);
    await expectConfigError(wrong.head('anything'), /refused/);
    await wrong.close();
    // versitygw answers an unknown access key with a 404 (XAdminUserNotFound), not a 403.
    const stranger = createS3Storage(sandboxS3Options({ credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' } }));
    await expectConfigError(stranger.check(), /^S3 refused the credentials for bucket medusa-sandbox .*XAdminUserNotFound/);
    await stranger.close();
  });

  test('check() on an endpoint nobody listens on says so, and stays retryable', async () => {
    const dead = createS3Storage(sandboxS3Options({ endpoint: 'http://127.0.0.1:1' }));
    const err = await dead.check().then(() => undefined, (e: unknown) => e as Error);
    expect(err).not.toBeInstanceOf(StorageConfigError);
    expect(err?.message).toBe('cannot reach S3 endpoint http://127.0.0.1:1: ECONNREFUSED');
    await dead.close();
  });

  test('maxBandwidthBytesPerSecond throttles uploads', async () => {
    const slow = createS3Storage(sandboxS3Options({ maxBandwidthBytesPerSecond: 2 * MiB }));
    const start = Date.now();
    await slow.upload(`${root}slow/obj`, unevenStream(randomBytes(6 * MiB), 256 * 1024), 6 * MiB);
    // One second of burst, then 4 MiB at 2 MiB/s.
    expect(Date.now() - start).toBeGreaterThanOrEqual(1900);
    await slow.close();
  });
});

describe('local storage: files on disk', () => {
  let base: string;
  beforeEach(() => { base = mkdtempSync(join(tmpdir(), 'medusa-local-')); });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  test('check() fails clearly when base_path does not exist, and creates the bucket directory when it does', async () => {
    await expectConfigError(createLocalStorage({ basePath: join(base, 'nope'), bucketName: 'b' }).check(), new RegExp(`${join(base, 'nope')} does not exist`));
    await createLocalStorage({ basePath: base, bucketName: 'b' }).check();
    expect(existsSync(join(base, 'b'))).toBe(true);
  });

  test('objects are plain files; a write in progress is a hidden temp file, removed when aborted', async () => {
    const storage = createLocalStorage({ basePath: base, bucketName: 'b' });
    await storage.putBytes('n1/meta/schema.cql', 'CREATE');
    expect(readFileSync(join(base, 'b', 'n1', 'meta', 'schema.cql'), 'utf8')).toBe('CREATE');
    const src = pushable();
    const ac = new AbortController();
    const done = storage.upload('n1/meta/big', src.body, 100, { signal: ac.signal });
    src.push(Buffer.alloc(50));
    await waitFor(() => readdirSync(join(base, 'b', 'n1', 'meta')).some((f) => f.startsWith('.tmp-')), 'the temp file');
    expect((await collect(storage.list('n1/'))).map((o) => o.key)).toEqual(['n1/meta/schema.cql']);
    ac.abort();
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    expect(readdirSync(join(base, 'b', 'n1', 'meta'))).toEqual(['schema.cql']);
  });

  test('keys that would leave the bucket directory are refused', async () => {
    const storage = createLocalStorage({ basePath: base, bucketName: 'b' });
    await expect(storage.putBytes('../escape', 'x')).rejects.toThrow(/invalid object key/);
    await expect(storage.head('a//b')).rejects.toThrow(/invalid object key/);
  });
});
