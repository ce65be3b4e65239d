import { createHash } from 'node:crypto';
import { backupNameProblem, defaultBackupName, snapshotTag } from '../../src/plan/backup-name';
import { alreadySent, commonFolder, earlierVerdict, hashesMatch, isMultipartHash, multipartEtag, planFiles, sameStoredObject } from '../../src/plan/differential';
import { Layout } from '../../src/plan/layout';
import { buildManifest, parseManifest, serializeManifest } from '../../src/plan/manifest';
import { parseJsonWithBigInts, pyJsonDumps } from '../../src/plan/python-json';
import { parseSnapshotFind } from '../../src/plan/snapshot-files';
import { parseTokenMap, serializeTokenMap } from '../../src/plan/tokenmap';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const D = '/var/lib/cassandra/data';
const T = 'medusa-b1';
const FIND = [
  `4096\t${D}/shop/orders-abc/snapshots/${T}/nb-1-big-Data.db`,
  `99\t${D}/shop/orders-abc/snapshots/${T}/manifest.json`,
  `300\t${D}/shop/orders-abc/snapshots/${T}/schema.cql`,
  `16\t${D}/shop/orders-abc/snapshots/${T}/nb-1-big-TOC.txt`,
  `512\t${D}/shop/customers-def/snapshots/${T}/.customers_by_country/nb-1-big-Data.db`,
  `55\t${D}/shop/empty-123/snapshots/${T}/manifest.json`,
  `77\t${D}/system_traces/events-0ff/snapshots/${T}/nb-1-big-Data.db`,
  `88\t${D}/shop/orders-abc/snapshots/other-tag/nb-1-big-Data.db`,
].join('\n');

test('layout: keys for meta, data (full and differential), index and latest, with and without prefix', () => {
  const l = new Layout('', '127.0.0.2');
  expect(l.meta('b1', 'schema.cql')).toBe('127.0.0.2/b1/meta/schema.cql');
  expect(l.dataKey('full', 'b1', 'ks/t-1/nb-1-big-Data.db')).toBe('127.0.0.2/b1/data/ks/t-1/nb-1-big-Data.db');
  expect(l.dataKey('differential', 'b1', 'ks/t-1/.idx/nb-1-big-Data.db')).toBe('127.0.0.2/data/ks/t-1/.idx/nb-1-big-Data.db');
  expect(l.index('b1', 'tokenmap')).toBe('index/backup_index/b1/tokenmap_127.0.0.2.json');
  expect(l.index('b1', 'schema')).toBe('index/backup_index/b1/schema_127.0.0.2.cql');
  expect(l.index('b1', 'differential')).toBe('index/backup_index/b1/differential_127.0.0.2');
  expect(l.indexTimestamp('b1', 'started', 1700000000)).toBe('index/backup_index/b1/started_127.0.0.2_1700000000.timestamp');
  expect(l.latest('backup_name.txt')).toBe('index/latest_backup/127.0.0.2/backup_name.txt');
  const p = new Layout('tenant', 'n1');
  expect(p.meta('b', 'manifest.json')).toBe('tenant/n1/b/meta/manifest.json');
  expect(p.index('b', 'manifest')).toBe('tenant/index/backup_index/b/manifest_n1.json');
});

test('snapshot listing: components and index sub-directories, without system_traces, Cassandra\'s own files or other tags', () => {
  const l = parseSnapshotFind(FIND, D, T);
  expect(l.files.map((f) => [f.rel, f.size])).toEqual([
    ['shop/customers-def/.customers_by_country/nb-1-big-Data.db', 512],
    ['shop/orders-abc/nb-1-big-Data.db', 4096],
    ['shop/orders-abc/nb-1-big-TOC.txt', 16],
  ]);
  expect(l.tables).toEqual([
    { keyspace: 'shop', tableDir: 'customers-def' }, { keyspace: 'shop', tableDir: 'empty-123' }, { keyspace: 'shop', tableDir: 'orders-abc' },
  ]);
  expect(() => parseSnapshotFind('garbage', D, T)).toThrow('unexpected line from find');
});

test('manifest: every table, index files inside their table, written byte for byte as Python json.dumps', () => {
  const l = parseSnapshotFind(FIND, D, T);
  const layout = new Layout('pfx', 'n1');
  const objects = l.files.map((f) => ({ keyspace: f.keyspace, tableDir: f.tableDir, path: layout.dataKey('differential', 'b1', f.rel), MD5: f.size === 16 ? null : 'abc', size: f.size }));
  const text = serializeManifest(buildManifest(l.tables, objects));
  expect(text).toBe('[{"keyspace": "shop", "columnfamily": "customers-def", "objects": [{"path": "pfx/n1/data/shop/customers-def/.customers_by_country/nb-1-big-Data.db", "MD5": "abc", "size": 512}]}, '
    + '{"keyspace": "shop", "columnfamily": "empty-123", "objects": []}, '
    + '{"keyspace": "shop", "columnfamily": "orders-abc", "objects": [{"path": "pfx/n1/data/shop/orders-abc/nb-1-big-Data.db", "MD5": "abc", "size": 4096}, {"path": "pfx/n1/data/shop/orders-abc/nb-1-big-TOC.txt", "MD5": null, "size": 16}]}]');
  expect(parseManifest(text)[2].objects[1]).toEqual({ path: 'pfx/n1/data/shop/orders-abc/nb-1-big-TOC.txt', MD5: null, size: 16 });
});

test('python json: separators, escapes and non-ASCII as json.dumps; big integers exact both ways', () => {
  expect(pyJsonDumps({ a: [1, 'x"y\\z\n'], 'é': 'ü😀', n: null, t: true })).toBe('{"a": [1, "x\\"y\\\\z\\n"], "\\u00e9": "\\u00fc\\ud83d\\ude00", "n": null, "t": true}');
  const text = '{"h": {"tokens": [-9223372036854775808, 3074457345618258602, 12], "x": 1.5, "s": "-9223372036854775808"}}';
  const parsed = parseJsonWithBigInts(text) as { h: { tokens: unknown[]; x: number; s: string } };
  expect(parsed.h.tokens).toEqual([-9223372036854775808n, 3074457345618258602n, 12]);
  expect(parsed.h.x).toBe(1.5);
  expect(parsed.h.s).toBe('-9223372036854775808');
});

test('tokenmap: hosts sorted as Python sorts strings, tokens ascending and exact', () => {
  const text = serializeTokenMap({
    '127.0.0.3': { tokens: [3074457345618258602n], isUp: true, rack: 'r1', dc: 'dc1' },
    '127.0.0.10': { tokens: [5n, -9223372036854775808n], isUp: false, rack: 'r1', dc: 'dc2' },
  });
  expect(text).toBe('{"127.0.0.10": {"tokens": [-9223372036854775808, 5], "is_up": false, "rack": "r1", "dc": "dc2"}, '
    + '"127.0.0.3": {"tokens": [3074457345618258602], "is_up": true, "rack": "r1", "dc": "dc1"}}');
  expect(parseTokenMap(text)['127.0.0.10'].tokens).toEqual([-9223372036854775808n, 5n]);
  expect(parseTokenMap('{"a": {"tokens": 42, "is_up": true, "rack": "r", "dc": "d"}}').a.tokens).toEqual([42n]);
});

test('differential plan: new and changed files are uploaded, same-size files kept, or checked when md5 checks are on', () => {
  const files = parseSnapshotFind(FIND, D, T).files;
  const layout = new Layout('', 'n1');
  const pool = new Map([
    [layout.dataKey('differential', 'b1', 'shop/orders-abc/nb-1-big-Data.db'), { size: 4096, hash: 'aa' }],
    [layout.dataKey('differential', 'b1', 'shop/orders-abc/nb-1-big-TOC.txt'), { size: 15, hash: 'bb' }],
    [layout.dataKey('differential', 'b1', 'shop/customers-def/.customers_by_country/nb-1-big-Data.db'), { size: 512, hash: null }],
  ]);
  const act = (md5: boolean) => planFiles(files, layout, 'differential', 'b1', pool, md5).map((f) => f.action);
  expect(act(false)).toEqual(['keep', 'keep', 'upload']);
  expect(act(true)).toEqual(['keep', 'check', 'upload']); // no stored hash: size only
  expect(planFiles(files, layout, 'full', 'b1', pool, false).map((f) => [f.action, f.key])).toEqual([
    ['upload', 'n1/b1/data/shop/customers-def/.customers_by_country/nb-1-big-Data.db'],
    ['upload', 'n1/b1/data/shop/orders-abc/nb-1-big-Data.db'],
    ['upload', 'n1/b1/data/shop/orders-abc/nb-1-big-TOC.txt'],
  ]);
});

test('hash comparison: hex, base64 and multipart forms', () => {
  const data = Buffer.from('hello');
  const hex = md5(data);
  expect(hashesMatch(hex, hex)).toBe(true);
  expect(hashesMatch(Buffer.from(hex, 'hex').toString('base64'), hex)).toBe(true);
  expect(hashesMatch(md5(Buffer.from('other')), hex)).toBe(false);
  const parts = [md5(Buffer.from('a')), md5(Buffer.from('b'))];
  const etag = multipartEtag(parts, md5);
  expect(isMultipartHash(etag)).toBe(true);
  expect(etag).toMatch(/-2$/);
  expect(hashesMatch(etag, hex, etag)).toBe(true);
  expect(hashesMatch(etag, hex)).toBe(false);
});

test('backup names: safe in keys, index names and snapshot tags', () => {
  for (const ok of ['202608061540', 'nightly-1', 'b_2.v1']) expect(backupNameProblem(ok)).toBeUndefined();
  expect(backupNameProblem('')).toBe('backup name is empty');
  expect(backupNameProblem('a/b')).toMatch("contains '/'");
  expect(backupNameProblem('a..b')).toMatch("contains '..'");
  expect(backupNameProblem('a b')).toMatch('may use only letters');
  expect(backupNameProblem('-x')).toMatch('may use only letters');
  expect(defaultBackupName(new Date(2026, 7, 6, 15, 40, 59))).toBe('202608061540');
  expect(snapshotTag('b1', false)).toBe('medusa-b1');
  expect(snapshotTag('b1', true)).toBe('b1');
});

test('a stored object is the planned one when its hash (or, without hashes, its time) is unchanged', () => {
  expect(sameStoredObject({ size: 3, hash: 'a' }, { size: 3, hash: 'a' })).toBe(true);
  expect(sameStoredObject({ size: 3, hash: 'b' }, { size: 3, hash: 'a' })).toBe(false);
  expect(sameStoredObject({ size: 4, hash: 'a' }, { size: 3, hash: 'a' })).toBe(false);
  expect(sameStoredObject({ size: 3, hash: null, lastModified: 5 }, { size: 3, hash: null, lastModified: 5 })).toBe(true);
  expect(sameStoredObject({ size: 3, hash: null, lastModified: 6 }, { size: 3, hash: null, lastModified: 5 })).toBe(false);
});

test('an upload is done already when storage holds an object of its size that is not the stale one it replaces', () => {
  const stale = { size: 10, hash: 'aa', lastModified: 1 };
  expect(alreadySent(undefined, { size: 10 })).toBe(false);
  expect(alreadySent({ size: 9, hash: 'bb' }, { size: 10 })).toBe(false);
  expect(alreadySent({ size: 10, hash: 'bb' }, { size: 10 })).toBe(true);
  // Differential re-upload of a corrupt object: the same object is still there, so it is not done.
  expect(alreadySent({ ...stale }, { size: 10, existing: stale })).toBe(false);
  expect(alreadySent({ size: 10, hash: 'cc', lastModified: 2 }, { size: 10, existing: stale })).toBe(true);
});

test('a hash verdict of an earlier planning attempt is reused only for the same file, size and stored hash', () => {
  const existing = { size: 10, hash: 'aa' };
  const earlier = { '/d/a.db': { size: 10, stored: 'aa', action: 'keep' as const }, '/d/b.db': { size: 10, stored: 'aa', action: 'upload' as const } };
  expect(earlierVerdict(earlier, { path: '/d/a.db', size: 10, existing })).toBe('keep');
  expect(earlierVerdict(earlier, { path: '/d/b.db', size: 10, existing })).toBe('upload');
  expect(earlierVerdict(earlier, { path: '/d/c.db', size: 10, existing })).toBeUndefined();
  expect(earlierVerdict(earlier, { path: '/d/a.db', size: 11, existing })).toBeUndefined();
  expect(earlierVerdict(earlier, { path: '/d/a.db', size: 10, existing: { size: 10, hash: 'bb' } })).toBeUndefined();
  // A checkpoint is read from a file on the node: a path like a prototype key is no verdict.
  expect(earlierVerdict(earlier, { path: 'constructor', size: 10, existing })).toBeUndefined();
});

test('the folder one listing covers: the longest shared prefix cut at a slash', () => {
  expect(commonFolder([])).toBe('');
  expect(commonFolder(['p/n1/data/ks/t-1/a.db'])).toBe('p/n1/data/ks/t-1/');
  expect(commonFolder(['p/n1/data/ks/t-1/a.db', 'p/n1/data/ks/t-12/b.db'])).toBe('p/n1/data/ks/');
  expect(commonFolder(['p/n1/b1/data/x/1', 'p/n1/b1/meta'])).toBe('p/n1/b1/');
  expect(commonFolder(['a/b', 'c/d'])).toBe('');
});

test('part MD5s of a local file, hashed on threads: the digests split --filter=md5sum gives, in order, boundaries exact', async () => {
  const { partMd5sOfFile } = await import('../../src/nodes/local-hash');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'parts-'));
  const data = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 5 }, (_, i) => (i * 7) % 251));
  const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
  writeFileSync(join(dir, 'f'), data);
  const size = 1024 * 1024 + 3; // not a multiple of the read size: three parts, the last 3 MiB + 5 − 2 × size bytes
  const expected = [0, 1, 2].map((k) => md5(data.subarray(k * size, Math.min(data.length, (k + 1) * size))));
  expect(await partMd5sOfFile(join(dir, 'f'), size)).toEqual(expected);
  writeFileSync(join(dir, 'empty'), '');
  expect(await partMd5sOfFile(join(dir, 'empty'), size)).toEqual([]);
  // One part; and more parts than hashing threads, each in its place.
  expect(await partMd5sOfFile(join(dir, 'f'), data.length)).toEqual([md5(data)]);
  const small = 64 * 1024 + 1;
  const many = Array.from({ length: Math.ceil(data.length / small) }, (_, k) => md5(data.subarray(k * small, (k + 1) * small)));
  expect(many.length).toBeGreaterThan(20);
  expect(await partMd5sOfFile(join(dir, 'f'), small)).toEqual(many);
  await expect(partMd5sOfFile(join(dir, 'missing'), size)).rejects.toMatchObject({ code: 'ENOENT' });
  const stop = new AbortController();
  stop.abort(Object.assign(new Error('cancelled'), { name: 'AbortError' }));
  await expect(partMd5sOfFile(join(dir, 'f'), small, stop.signal)).rejects.toThrow('cancelled');
});
