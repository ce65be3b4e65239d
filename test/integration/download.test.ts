/**
 * `downloadNode` (medusa download) on real parts: a real backup of sandbox node 127.0.0.2 (local
 * storage and the sandbox S3 server) downloaded over real SSH into a fresh directory on that node,
 * every file compared byte for byte with the snapshot it was backed up from; Medusa's filters; a
 * worker killed mid-download and replaced keeps the files it had finished; a crafted manifest with
 * `../`, a symlink in the destination and a destination too small are refused before anything is
 * written; and the CLI as users run it.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ChildProcess, spawn } from 'node:child_process';
import { Dirent, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostPath } from '../../sandbox/parts/ssh-hosts';
import { loadSettings } from '../../sandbox/settings';
import { Layout } from '../../src/plan/layout';
import { SYSTEM_KEYSPACES } from '../../src/plan/download';
import { Storage } from '../../src/storage/storage';
import { backupNode, downloadNode, DownloadNodeInput, DownloadNodeResult } from '../../src/workflows';
import { Harness, s3Ini, sandboxConfig, startHarness, StorageKind } from '../support/backup-harness';
import { lines, medusa } from '../support/cli';
import { uniqueId } from '../support/env';
import { onNode, snapshotFiles } from '../support/nodes';

const NODE = '127.0.0.2';
const TAG = 'medusa-b1';
const META = ['manifest.json', 'schema.cql', 'tokenmap.json'];
const repo = join(__dirname, '..', '..');
const settings = loadSettings();
/** A path of the node, as seen from this machine (the node's /var/lib/cassandra is a directory of the sandbox). */
const here = (nodePath: string) => hostPath(settings, NODE, nodePath);
let h: Harness;
const spawned: ChildProcess[] = [];
const destinations: string[] = [];

/** A fresh, empty destination directory on the node (beside Cassandra's data, not in it). */
async function freshDestination(): Promise<string> {
  const dest = `/var/lib/cassandra/${uniqueId('dl')}`;
  await onNode(NODE, `mkdir -p ${dest}`);
  destinations.push(dest);
  return dest;
}

/** Every regular file below a directory of this machine, hidden ones included, relative path → content. */
function treeOf(dir: string, rel = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let entries: Dirent[];
  try {
    entries = readdirSync(join(dir, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of treeOf(dir, r)) out.set(k, v);
    else out.set(r, readFileSync(join(dir, r)));
  }
  return out;
}

/** The snapshot file a downloaded `<ks>/<table_dir>[/.<idx>]/<file>` was backed up from, as seen from this machine. */
function snapshotFile(rel: string): string {
  const [ks, table, ...rest] = rel.split('/');
  return here(`/var/lib/cassandra/data/${ks}/${table}/snapshots/${TAG}/${rest.join('/')}`);
}

/** Asserts that `dest` holds exactly `rels` (plus Medusa's meta files), each byte for byte the snapshot file it was backed up from. */
function expectExactly(dest: string, rels: string[], b: Backed): void {
  const tree = treeOf(here(dest));
  expect([...tree.keys()].sort()).toEqual([...rels, ...META].sort());
  for (const rel of rels) {
    if (!tree.get(rel)!.equals(b.content.get(rel)!)) throw new Error(`${rel} differs from the snapshot's file`);
  }
}

interface Backed {
  prefix: string;
  taskQueue: string;
  storage: Storage;
  /** The snapshot's files, `<ks>/<table_dir>[/.<idx>]/<file>` → size (system_traces left out, as backups do). */
  files: Map<string, number>;
  /**
   * Each snapshot file's bytes, read right after the backup: the snapshot directory is not stable
   * for the whole run (in one run a Summary.db of it was gone minutes later), what was backed up is.
   */
  content: Map<string, Buffer>;
}

const backups = new Map<StorageKind, Promise<Backed>>();
/** One differential backup `b1` of NODE per storage kind, its snapshot kept for the comparisons. */
function backedUp(kind: StorageKind): Promise<Backed> {
  if (!backups.has(kind)) {
    backups.set(kind, (async () => {
      const prefix = uniqueId(`dl${kind}`).replace(/-/g, '');
      const { taskQueue, storage } = await h.worker(sandboxConfig(kind, { prefix }));
      await h.client.workflow.execute(backupNode, {
        taskQueue, workflowId: `${prefix}/backup`, args: [{ backupName: 'b1', fqdn: NODE, prefix, keepSnapshot: true }], workflowExecutionTimeout: '5 minutes',
      });
      const files = await snapshotFiles(NODE, TAG);
      return { prefix, taskQueue, storage, files, content: new Map([...files.keys()].map((rel) => [rel, readFileSync(snapshotFile(rel))])) };
    })());
  }
  return backups.get(kind)!;
}

function download(b: Backed, input: Partial<DownloadNodeInput> & { destination: string }, taskQueue = b.taskQueue) {
  return h.client.workflow.start(downloadNode, {
    taskQueue, workflowId: `${b.prefix}/${uniqueId('download')}`, args: [{ backupName: 'b1', fqdn: NODE, prefix: b.prefix, ...input }], workflowExecutionTimeout: '10 minutes',
  });
}

/** The failure of a download that should be refused: its message and type. */
async function refusal(b: Backed, input: Partial<DownloadNodeInput> & { destination: string }): Promise<{ message: string; type?: string }> {
  const err = await (await download(b, input)).result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as { message: string; type?: string };
  return { message: cause.message, type: cause.type };
}

beforeAll(async () => {
  h = await startHarness();
}, 120_000);

afterAll(async () => {
  for (const p of spawned) if (p.exitCode === null) p.kill('SIGKILL');
  await onNode(NODE, `nodetool clearsnapshot -t ${TAG}; rm -rf ${destinations.join(' ')}`).catch(() => undefined);
  await h?.close();
});

test('objects stored multipart (no plain MD5 to check) come back in parallel ranges on the node, byte for byte, and are size-checked', async () => {
  const prefix = uniqueId('dlparts').replace(/-/g, '');
  const tag = 'medusa-parts';
  const config = sandboxConfig('s3', { prefix });
  // Every non-empty file goes up multipart (parts of 5 MiB, S3's minimum), so its manifest hash is an `<md5>-1` ETag.
  Object.assign(config.storage, { multiPartUploadThreshold: 1, multipartChunkSize: 5 * 1024 * 1024 });
  const { taskQueue, storage } = await h.worker(config);
  try {
    await h.client.workflow.execute(backupNode, {
      taskQueue, workflowId: `${prefix}/backup`, args: [{ backupName: 'parts', fqdn: NODE, prefix, keepSnapshot: true }], workflowExecutionTimeout: '5 minutes',
    });
    const files = await snapshotFiles(NODE, tag);
    const manifest = (await storage.getBytes(new Layout(prefix, NODE).meta('parts', 'manifest.json')))!.toString('utf8');
    expect(manifest).toMatch(/"MD5": "[0-9a-f]{32}-1"/);
    const dest = await freshDestination();
    const r: DownloadNodeResult = await h.client.workflow.execute(downloadNode, {
      taskQueue, workflowId: `${prefix}/download`, args: [{ backupName: 'parts', fqdn: NODE, prefix, destination: dest }], workflowExecutionTimeout: '10 minutes',
    });
    const tree = treeOf(here(dest));
    expect([...tree.keys()].sort()).toEqual([...files.keys(), ...META].sort());
    for (const rel of files.keys()) {
      const [ks, table, ...rest] = rel.split('/');
      if (!tree.get(rel)!.equals(readFileSync(here(`/var/lib/cassandra/data/${ks}/${table}/snapshots/${tag}/${rest.join('/')}`)))) throw new Error(`${rel} differs from the snapshot's file`);
    }
    // Only the empty files (a plain single PUT) had an MD5 to check; the others were checked by size, written in ranges.
    const empty = [...files.values()].filter((size) => size === 0).length;
    expect(r).toMatchObject({ files: files.size, downloadedFiles: files.size, md5CheckedFiles: empty });
  } finally {
    await onNode(NODE, `nodetool clearsnapshot -t ${tag}`);
  }
}, 300_000);

describe.each<StorageKind>(['local', 's3'])('from %s storage', (kind) => {
  test('every file of the backup lands in <dest>/<ks>/<table_dir>[/.<index>]/<file>, byte for byte the snapshot\'s, with Medusa\'s meta files', async () => {
    const b = await backedUp(kind);
    expect(b.files.size).toBeGreaterThan(100);
    const dest = await freshDestination();
    const handle = await download(b, { destination: dest });
    const r: DownloadNodeResult = await handle.result();
    expectExactly(dest, [...b.files.keys()], b);
    expect([...b.files.keys()].some((rel) => rel.includes('/.customers_by_country/'))).toBe(true);
    const layout = new Layout(b.prefix, NODE);
    for (const m of ['manifest.json', 'schema.cql', 'tokenmap.json'] as const) {
      expect(readFileSync(here(`${dest}/${m}`)).equals((await b.storage.getBytes(layout.meta('b1', m)))!)).toBe(true);
    }
    const bytes = [...b.files.values()].reduce((a, s) => a + s, 0);
    expect(r).toMatchObject({ files: b.files.size, bytes, downloadedFiles: b.files.size, downloadedBytes: bytes, alreadyPresentFiles: 0 });
    // Both storages put whole-content MD5s in this manifest (local: computed on write; S3: single-part ETags): every file was checked.
    expect(r.md5CheckedFiles).toBe(b.files.size);
    // The work directory with the plan is gone from the node.
    const runKey = handle.workflowId.replace(/[^A-Za-z0-9._-]/g, '_');
    expect((await onNode(NODE, 'ls /tmp/medusa-temporal 2>/dev/null || true')).includes(runKey)).toBe(false);
  }, 300_000);
});

describe('filters and reruns (local storage)', () => {
  const systemOr = (pred: (ks: string, table: string) => boolean) => (rel: string) => {
    const [ks, table] = rel.split('/');
    return SYSTEM_KEYSPACES.includes(ks) || pred(ks, table);
  };

  test('--table ks.t downloads that table and the system keyspaces; --ignore-system-keyspaces leaves them out', async () => {
    const b = await backedUp('local');
    const orders = (ks: string, table: string) => ks === 'shop' && table.startsWith('orders-');
    const withSystem = await freshDestination();
    await (await download(b, { destination: withSystem, tables: ['shop.orders'] })).result();
    const expected = [...b.files.keys()].filter(systemOr(orders));
    expect(expected.some((rel) => rel.startsWith('system_schema/'))).toBe(true);
    expectExactly(withSystem, expected, b);

    const without = await freshDestination();
    const r = await (await download(b, { destination: without, tables: ['shop.orders'], ignoreSystemKeyspaces: true })).result();
    const onlyOrders = [...b.files.keys()].filter((rel) => orders(rel.split('/')[0], rel.split('/')[1]));
    expect(onlyOrders.length).toBeGreaterThan(0);
    expectExactly(without, onlyOrders, b);
    expect(r.tables).toBe(1);
  }, 300_000);

  test('--keyspace downloads whole keyspaces (secondary index files included)', async () => {
    const b = await backedUp('local');
    const dest = await freshDestination();
    await (await download(b, { destination: dest, keyspaces: ['shop', 'inventory'], ignoreSystemKeyspaces: true })).result();
    const expected = [...b.files.keys()].filter((rel) => ['shop', 'inventory'].includes(rel.split('/')[0]));
    expect(expected.some((rel) => rel.includes('/.customers_by_country/'))).toBe(true);
    expectExactly(dest, expected, b);
  }, 300_000);

  test('a second download into the same place keeps every file already there (checked by MD5 on the node) and rewrites none', async () => {
    const b = await backedUp('local');
    const dest = await freshDestination();
    const first = await (await download(b, { destination: dest, keyspaces: ['shop'] })).result();
    const inodes = new Map([...treeOf(here(dest)).keys()].map((rel) => [rel, statSync(here(`${dest}/${rel}`)).ino]));
    // One file damaged with its size kept: only it is downloaded again.
    const damaged = [...b.files.keys()].find((rel) => rel.startsWith('shop/') && rel.endsWith('-Data.db') && b.files.get(rel)! > 10)!;
    const buf = readFileSync(here(`${dest}/${damaged}`));
    buf[0] ^= 0xff;
    writeFileSync(here(`${dest}/${damaged}`), buf);
    const again = await (await download(b, { destination: dest, keyspaces: ['shop'] })).result();
    expect(again).toMatchObject({ files: first.files, downloadedFiles: 1, alreadyPresentFiles: first.files - 1 });
    expectExactly(dest, [...b.files.keys()].filter(systemOr((ks) => ks === 'shop')), b);
    for (const [rel, ino] of inodes) {
      if (rel !== damaged && !META.includes(rel)) expect([rel, statSync(here(`${dest}/${rel}`)).ino]).toEqual([rel, ino]);
    }
  }, 300_000);
});

describe('refusals, before anything is written (local storage)', () => {
  test('an unknown backup, and a backup of the node that has not finished', async () => {
    const b = await backedUp('local');
    const dest = await freshDestination();
    expect(await refusal(b, { destination: dest, backupName: 'nope' })).toMatchObject({ type: 'BackupNotFound', message: expect.stringMatching(/^no backup named nope in local:/) });
    const layout = new Layout(b.prefix, NODE);
    const tokenmap = (await b.storage.getBytes(layout.meta('b1', 'tokenmap.json')))!;
    await b.storage.putBytes(layout.index('unfinished', 'tokenmap'), tokenmap);
    await b.storage.putBytes(layout.indexTimestamp('unfinished', 'started', 1_700_000_000), '1700000000');
    expect(await refusal(b, { destination: dest, backupName: 'unfinished' })).toEqual({
      type: 'BackupIncomplete', message: `backup unfinished of ${NODE} is not complete (no manifest): there is nothing to download`,
    });
    expect(await refusal(b, { destination: `${dest}/missing` })).toEqual({ type: 'BadInput', message: `${dest}/missing is not a directory on ${NODE}` });
    expect(treeOf(here(dest)).size).toBe(0);
  }, 120_000);

  test('a manifest with a ../ path (a crafted backup) is refused; nothing is written in or outside the destination', async () => {
    const b = await backedUp('local');
    const layout = new Layout(b.prefix, NODE);
    const name = 'crafted';
    const ok = `${b.prefix}/${NODE}/data/shop/orders-1/nb-1-big-Data.db`;
    const evilName = uniqueId('escaped');
    const manifest = JSON.stringify([{ keyspace: 'shop', columnfamily: 'orders-1', objects: [
      { path: ok, MD5: null, size: 5 },
      // Medusa would write this to <dest>/shop/orders-1/../../<name>, i.e. beside the destination.
      { path: `${b.prefix}/${NODE}/data/shop/orders-1/../../${evilName}`, MD5: null, size: 5 },
    ] }]);
    await b.storage.putBytes(ok, 'hello');
    for (const [key, body] of [
      [layout.meta(name, 'schema.cql'), 'CREATE KEYSPACE shop;'], [layout.meta(name, 'tokenmap.json'), (await b.storage.getBytes(layout.meta('b1', 'tokenmap.json')))!],
      [layout.meta(name, 'manifest.json'), manifest], [layout.index(name, 'tokenmap'), (await b.storage.getBytes(layout.meta('b1', 'tokenmap.json')))!],
      [layout.index(name, 'manifest'), manifest], [layout.indexTimestamp(name, 'started', 1_700_000_000), '1700000000'],
      [layout.indexTimestamp(name, 'finished', 1_700_000_100), '1700000100'],
    ] as const) await b.storage.putBytes(key, body);
    const dest = await freshDestination();
    const r = await refusal(b, { destination: dest, backupName: name });
    expect(r.type).toBe('UnsafePath');
    expect(r.message).toMatch(/^backup crafted of 127\.0\.0\.2: manifest path ".*\/orders-1\/\.\.\/\.\.\/escaped-[^"]+" has an empty, "\." or "\.\." component: refused/);
    expect(treeOf(here(dest)).size).toBe(0);
    expect(existsSync(here(`/var/lib/cassandra/${evilName}`))).toBe(false);
  }, 120_000);

  test('a symbolic link inside the destination on the way of a file is refused', async () => {
    const b = await backedUp('local');
    const dest = await freshDestination();
    const elsewhere = await freshDestination();
    await onNode(NODE, `ln -s ${elsewhere} ${dest}/shop`);
    const r = await refusal(b, { destination: dest, keyspaces: ['shop'] });
    expect(r).toEqual({ type: 'UnsafePath', message: `${dest} on ${NODE}: shop in the download destination is a symbolic link: refused, ${r.message.split('refused, ')[1]}` });
    expect(r.message).toMatch(/refused, shop\/[^ ]+ would be written through it$/);
    expect(treeOf(here(elsewhere)).size).toBe(0);
  }, 120_000);

  test('a destination with too little space is refused with what is needed and what is available', async () => {
    const b = await backedUp('local');
    const dest = await freshDestination();
    // A 1 MiB tmpfs in the node's own mount namespace (the SSH session runs in it).
    await onNode(NODE, `mount -t tmpfs -o size=1m tmpfs ${dest}`);
    try {
      const r = await refusal(b, { destination: dest });
      expect(r.type).toBe('NotEnoughSpace');
      expect(r.message).toMatch(new RegExp(`^not enough space in ${dest} on ${NODE}: \\d+\\.\\d\\d [KMG]?B needed \\(\\d+ bytes\\), 1\\.00 MB available \\(1048576 bytes\\)$`));
      const needed = Number(/\((\d+) bytes\), /.exec(r.message)![1]);
      expect(needed).toBeGreaterThan([...b.files.values()].reduce((a, s) => a + s, 0));
      expect((await onNode(NODE, `find ${dest} -mindepth 1 | wc -l`)).trim()).toBe('0');
    } finally {
      await onNode(NODE, `umount ${dest}`);
    }
  }, 120_000);
});

test('a worker killed mid-download is replaced; the download completes and files it had finished are not downloaded again', async () => {
  const b = await backedUp('s3');
  const taskQueue = uniqueId('dlcrash-q');
  const worker = (extra: string) => {
    const p = spawn('node', [join(repo, 'bin', 'medusa.js'), '--config-file', s3Ini(b.prefix, extra), 'worker', '--task-queue', taskQueue], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, stdio: ['ignore', 'ignore', 'ignore'],
    });
    spawned.push(p);
    return p;
  };
  const slow = worker('transfer_max_bandwidth = 100KB/s\nconcurrent_transfers = 1');
  const dest = await freshDestination();
  const handle = await download(b, { destination: dest }, taskQueue);
  // Files at their final name are complete (in progress they are hidden temp siblings, `.name.<random>.tmp`).
  const complete = () => [...treeOf(here(dest)).keys()].filter((rel) => !rel.split('/').pop()!.startsWith('.'));
  for (let i = 0; i < 240 && complete().length < 40; i++) await new Promise((r) => setTimeout(r, 500));
  slow.kill('SIGKILL');
  await new Promise((r) => slow.once('exit', r));
  const finished = new Map(complete().map((rel) => [rel, statSync(here(`${dest}/${rel}`))]));
  expect(finished.size).toBeGreaterThanOrEqual(40);
  expect(finished.size).toBeLessThan(b.files.size);

  worker('concurrent_transfers = 4');
  const r = await handle.result();
  expect(r.alreadyPresentFiles).toBeGreaterThanOrEqual(finished.size);
  expect(r.downloadedFiles + r.alreadyPresentFiles).toBe(b.files.size);
  expect(r.downloadedFiles).toBeLessThanOrEqual(b.files.size - finished.size);
  // Not written again: same inode (a new download is a new file renamed into place) and same mtime.
  for (const [rel, st] of finished) {
    const now = statSync(here(`${dest}/${rel}`));
    expect([rel, now.ino, now.mtimeMs]).toEqual([rel, st.ino, st.mtimeMs]);
  }
  // Every file complete and identical, and no temp file of the killed attempt left behind.
  expectExactly(dest, [...b.files.keys()], b);
  const history = await handle.fetchHistory();
  const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
  expect(attempts).toContain(2);
}, 600_000);

describe('medusa download, the CLI', () => {
  const cli = (b: Backed, args: string[]) => medusa(['--prefix', b.prefix, '--fqdn', NODE, 'download', ...args, '--task-queue', b.taskQueue]);

  test('downloads with progress on stderr and one summary line on stdout, exit 0', async () => {
    const b = await backedUp('local');
    const dest = await freshDestination();
    const r = await cli(b, ['--backup-name', 'b1', '--download-destination', dest, '--table', 'shop.orders', '--ignore-system-keyspaces']);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([expect.stringMatching(new RegExp(`^downloaded b1 of ${NODE} into ${dest}: 1 tables, \\d+ files, .*; \\d+ files downloaded \\(.*\\); \\d+ checked by MD5, the rest by size$`))]);
    const [started, ...phases] = lines(r.stderr);
    expect(started).toBe(`download of b1 of ${NODE} into ${dest} started: workflow medusa-download/b1/${NODE}${dest}`);
    for (const l of phases) expect(l).toMatch(/^127\.0\.0\.2: (planning|downloading|done)( {2}.*)?$/);
    expect(treeOf(here(dest)).size).toBeGreaterThan(META.length);
  }, 300_000);

  test('refusals are one line and a non-zero exit', async () => {
    const b = await backedUp('local');
    const dest = await freshDestination();
    const unknown = await cli(b, ['--backup-name', 'nope', '--download-destination', dest]);
    expect(unknown.code).toBe(1);
    expect(lines(unknown.stderr).filter((l) => l.startsWith('medusa: '))).toEqual([expect.stringMatching(/^medusa: download of nope of 127\.0\.0\.2 failed: no backup named nope in local:/)]);
    const relative = await cli(b, ['--backup-name', 'b1', '--download-destination', 'relative/dir']);
    expect(relative).toMatchObject({ code: 2, stderr: 'medusa: --download-destination must be an absolute path (a directory on the node), not relative/dir\n' });
    expect(treeOf(here(dest)).size).toBe(0);
  }, 120_000);
});
