/**
 * The read-only catalogue commands as users run them (the real CLI in a child process) on backups
 * made by real cluster and node backups of the sandbox into a prefix of their own: list-backups
 * (text and json), status, get-last-complete-cluster-backup, fetch-tokenmap, report-last-backup,
 * and verify — including an object deleted, truncated and bit-flipped in storage, each named.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest } from '../../src/plan/manifest';
import { Layout } from '../../src/plan/layout';
import { parseTokenMap } from '../../src/plan/tokenmap';
import { Storage } from '../../src/storage/storage';
import { backupCluster, backupNode } from '../../src/workflows';
import { Harness, s3Ini, sandboxConfig, startHarness } from '../support/backup-harness';
import { lines, medusa } from '../support/cli';
import { uniqueId } from '../support/env';
import { NODES } from '../support/nodes';

const prefix = uniqueId('cat').replace(/-/g, '');
let h: Harness;
let storage: Storage;
let taskQueue: string;
let root: string;

const cli = (args: string[], fqdn = NODES[0]) => medusa(['--prefix', prefix, '--fqdn', fqdn, ...args]);

beforeAll(async () => {
  h = await startHarness();
  const config = sandboxConfig('local', { prefix });
  root = join(config.storage.basePath!, config.storage.bucketName);
  ({ taskQueue, storage } = await h.worker(config));
  // c1 differential and c2 full of every node; c3 of one node only (an incomplete cluster backup).
  for (const [name, mode] of [['c1', 'differential'], ['c2', 'full']] as const) {
    await h.client.workflow.execute(backupCluster, { taskQueue, workflowId: uniqueId(name), args: [{ backupName: name, seedTarget: NODES[0], prefix, mode }] });
  }
  await h.client.workflow.execute(backupNode, { taskQueue, workflowId: uniqueId('c3'), args: [{ backupName: 'c3', fqdn: NODES[1], prefix }] });
}, 600_000);

afterAll(async () => h?.close());

/** Flips bits of one byte of a file in place: same size, other content. */
function flipBits(path: string, offset: number, mask: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] ^= mask;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

async function manifestObjects(name: string, fqdn: string) {
  return parseManifest((await storage.getBytes(new Layout(prefix, fqdn).meta(name, 'manifest.json')))!.toString()).flatMap((s) => s.objects);
}

test('list-backups: oldest first, finished times, the incomplete one with its node count and the hint', async () => {
  const r = await cli(['list-backups', '--show-all']);
  expect(r.code).toBe(0);
  const l = lines(r.stdout);
  expect(l).toHaveLength(5);
  expect(l[0]).toMatch(/^c1 \(started: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, finished: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)$/);
  expect(l[1]).toMatch(/^c2 \(started: .*, finished: \d{4}-/);
  expect(l[2]).toMatch(/^c3 \(started: .*, finished: Incomplete \[1 of 3 nodes finished\]\)$/);
  expect(l.slice(3)).toEqual(['', 'Incomplete backups found. You can run "medusa status --backup-name <name>" for more details']);
  // Without --show-all: only backups that include this node (c3 is of 127.0.0.3 only).
  expect(lines((await cli(['list-backups'])).stdout).map((x) => x.split(' ')[0])).toEqual(['c1', 'c2']);
  expect(lines((await cli(['list-backups'], NODES[1])).stdout).filter(Boolean).map((x) => x.split(' ')[0])).toEqual(['c1', 'c2', 'c3', 'Incomplete']);
}, 120_000);

test('list-backups --output json: Medusa\'s fields, sizes and counts from the manifests', async () => {
  const r = await cli(['list-backups', '--show-all', '--output', 'json']);
  expect(r.code).toBe(0);
  const all = JSON.parse(r.stdout) as Record<string, unknown>[];
  expect(all.map((b) => b.name)).toEqual(['c1', 'c2', 'c3']);
  const [c1, c2, c3] = all;
  expect(Object.keys(c1).sort()).toEqual(['backup_type', 'completed_nodes', 'finished', 'incomplete_nodes', 'incomplete_nodes_list', 'missing_nodes',
    'missing_nodes_list', 'name', 'nodes', 'num_objects', 'size', 'started'].sort());
  expect(c1).toMatchObject({ backup_type: 'differential', completed_nodes: 3, incomplete_nodes: 0, missing_nodes: 0 });
  expect(c2).toMatchObject({ backup_type: 'full', completed_nodes: 3 });
  let objects = 0;
  let size = 0;
  for (const n of NODES) {
    const m = await manifestObjects('c1', n);
    objects += m.length;
    size += m.reduce((a, o) => a + o.size, 0);
  }
  expect(c1).toMatchObject({ num_objects: objects, size });
  expect((c1.nodes as { fqdn: string; server_type: string; release_version: string }[]).map((n) => [n.fqdn, n.server_type, n.release_version.split('.')[0]]).sort())
    .toEqual(NODES.map((n) => [n, 'cassandra', '5']));
  expect(c3).toMatchObject({ finished: null, completed_nodes: 1, missing_nodes: 2, missing_nodes_list: [NODES[0], NODES[2]] });
}, 120_000);

test('status: text and json; an unknown name is one line, exit 1 (json: {})', async () => {
  const r = await cli(['status', '--backup-name', 'c3']);
  expect(r.code).toBe(0);
  expect(lines(r.stdout)).toEqual([
    'c3 [Incomplete!]', expect.stringMatching(/^- Started: .*, Finished: never$/), '- 1 nodes completed, 0 nodes incomplete, 2 nodes missing',
    '- Missing nodes:', `    ${NODES[0]}`, `    ${NODES[2]}`, expect.stringMatching(/^- \d+ files, \d+\.\d\d (KB|MB)$/),
  ]);
  expect(lines((await cli(['status', '--backup-name', 'c1'])).stdout).slice(0, 1)).toEqual(['c1']);
  const unknown = await cli(['status', '--backup-name', 'c']);
  expect(unknown).toMatchObject({ code: 1, stdout: '' });
  expect(lines(unknown.stderr)).toEqual([expect.stringMatching(/^medusa: no backup named c in /)]);
  const json = await cli(['status', '--backup-name', 'c', '--output', 'json']);
  expect(json).toMatchObject({ code: 1, stdout: '{}\n' });
}, 120_000);

test('get-last-complete-cluster-backup, fetch-tokenmap and report-last-backup', async () => {
  expect(await cli(['get-last-complete-cluster-backup'])).toMatchObject({ code: 0, stdout: 'c2\n' });
  const t = await cli(['fetch-tokenmap', '--backup-name', 'c1']);
  expect(t.code).toBe(0);
  const tokenmap = parseTokenMap((await storage.getBytes(new Layout(prefix, NODES[0]).meta('c1', 'tokenmap.json')))!.toString());
  expect(lines(t.stdout)).toEqual(NODES.flatMap((n) => [n, `[${tokenmap[n].tokens.map(String).join(', ')}]`]));
  const r = await cli(['report-last-backup'], NODES[1]);
  expect(r.code).toBe(0);
  expect(lines(r.stdout)).toEqual([
    expect.stringMatching(new RegExp(`^Latest node backup of ${NODES[1].replace(/\./g, '\\.')}: c3, finished .*, \\d+ seconds ago$`)),
    expect.stringMatching(/^Latest complete cluster backup: c2, finished .*, \d+ seconds ago$/),
    expect.stringMatching(/^Latest cluster backup: c3, incomplete: 1 nodes completed, 0 nodes incomplete, 2 nodes missing, \d+ files, /),
  ]);
}, 120_000);

test('verify: a complete backup is OK; an incomplete one fails naming the missing nodes', async () => {
  const ok = await cli(['verify', '--backup-name', 'c2', '--enable-md5-checks']);
  expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
  expect(lines(ok.stdout)).toEqual(['Validating c2 ...', '- Completion: OK!', '- Manifest validated: OK!!']);
  const bad = await cli(['verify', '--backup-name', 'c3']);
  expect(bad.code).toBe(1);
  expect(lines(bad.stdout)).toEqual(['Validating c3 ...', '- Completion: Not complete!', `  - [${NODES[0]}] Backup missing`, `  - [${NODES[2]}] Backup missing`]);
  expect(lines(bad.stderr)).toEqual(['medusa: backup c3 is incomplete']);
}, 300_000);

test('verify names an object deleted, one truncated and (with md5 checks, which read the content) one bit-flipped', async () => {
  const data = (await manifestObjects('c2', NODES[2])).filter((o) => o.path.endsWith('-Data.db') && o.size > 16);
  expect(data.length).toBeGreaterThanOrEqual(3);
  const [gone, cut, flipped] = data;
  rmSync(join(root, gone.path));
  truncateSync(join(root, cut.path), cut.size - 5);
  flipBits(join(root, flipped.path), 10, 0x01);
  const sizeOnly = await cli(['verify', '--backup-name', 'c2']);
  expect(sizeOnly.code).toBe(1);
  expect(lines(sizeOnly.stdout)).toEqual([
    'Validating c2 ...', '- Completion: OK!', '- Manifest validation: Failed!',
    `  - [${gone.path}] Doesn't exists`,
    `  - [${cut.path}] Blob different (size ${cut.size - 5} in storage, ${cut.size} in the manifest)`,
  ]);
  const md5 = await cli(['verify', '--backup-name', 'c2', '--enable-md5-checks']);
  expect(md5.code).toBe(1);
  expect(lines(md5.stdout).slice(3)).toEqual([
    `  - [${gone.path}] Doesn't exists`,
    `  - [${cut.path}] Blob different (size ${cut.size - 5} in storage, ${cut.size} in the manifest)`,
    expect.stringMatching(new RegExp(`^  - \\[${flipped.path.replace(/[.[\]]/g, '\\$&')}\\] Blob different \\(content MD5 [0-9a-f]{32} does not match ${flipped.MD5}\\)$`)),
  ]);
  expect(lines(md5.stderr)).toEqual([expect.stringMatching(/^medusa: backup c2 failed verification: 3 of \d+ objects missing or different$/)]);
}, 300_000);

test('differential: the next backup sends again what was deleted, truncated or (recorded by verify) bit-flipped in the pool; both verify', async () => {
  const node = NODES[1];
  // Files of the user keyspaces: their SSTables stay on the node (system tables may compact away).
  const data = (await manifestObjects('c1', node)).filter((o) => /\/(shop|metrics|inventory)\//.test(o.path) && o.path.endsWith('-Data.db') && o.size > 16);
  expect(data.length).toBeGreaterThanOrEqual(3);
  const [gone, cut, flipped] = data;
  rmSync(join(root, gone.path));
  truncateSync(join(root, cut.path), cut.size - 3);
  flipBits(join(root, flipped.path), 7, 0x80);
  const before = await cli(['verify', '--backup-name', 'c1', '--enable-md5-checks']);
  expect(before.code).toBe(1);
  const problems = lines(before.stdout).filter((l) => l.startsWith('  - ['));
  expect(problems.map((l) => l.slice(5, l.indexOf(']')))).toEqual([gone.path, cut.path, flipped.path]);
  expect(lines(before.stdout)).toContain('- 1 corrupt pool object(s) recorded: the next differential backup of their node sends them again');

  const r = await h.client.workflow.execute(backupCluster, { taskQueue, workflowId: uniqueId('c4'), args: [{ backupName: 'c4', seedTarget: NODES[0], prefix }] });
  expect(r.nodes.find((n) => n.fqdn === node)?.result?.uploadedFiles).toBeGreaterThanOrEqual(3);
  for (const name of ['c1', 'c4']) {
    const after = await cli(['verify', '--backup-name', name, '--enable-md5-checks'], node);
    expect({ name, code: after.code, out: lines(after.stdout) }).toEqual({ name, code: 0, out: [`Validating ${name} ...`, '- Completion: OK!', '- Manifest validated: OK!!'] });
  }
  // The quarantine record is gone with the repair.
  const left: string[] = [];
  for await (const o of storage.list(`${prefix}/index/quarantine/`)) left.push(o.key);
  expect(left).toEqual([]);
}, 400_000);

describe('bad catalogues and storage: one line, exit 1', () => {
  const p2 = uniqueId('catbad').replace(/-/g, '');
  const cli2 = (args: string[]) => medusa(['--prefix', p2, '--fqdn', NODES[0], ...args]);

  beforeAll(async () => {
    // "broken": a finished node backup whose manifest is not JSON.
    const l = new Layout(p2, NODES[0]);
    const tokenmap = `{"${NODES[0]}": {"tokens": [1], "is_up": true, "rack": "rack1", "dc": "datacenter1"}}`;
    for (const [key, body] of [
      [l.meta('broken', 'schema.cql'), 'CREATE KEYSPACE x;'], [l.meta('broken', 'tokenmap.json'), tokenmap], [l.index('broken', 'tokenmap'), tokenmap],
      [l.indexTimestamp('broken', 'started', 1700000000), '1700000000'], [l.meta('broken', 'manifest.json'), '[{"keyspace": "ks", "colu'],
      [l.index('broken', 'manifest'), '[{"keyspace": "ks", "colu'], [l.indexTimestamp('broken', 'finished', 1700000100), '1700000100'],
    ] as const) await storage.putBytes(key, body);
  });

  test('a corrupt manifest is named', async () => {
    for (const args of [['status', '--backup-name', 'broken'], ['verify', '--backup-name', 'broken']]) {
      const r = await cli2(args);
      expect({ args, code: r.code, err: lines(r.stderr) }).toEqual({
        args, code: 1, err: [expect.stringMatching(new RegExp(`^medusa: manifest ${p2}/${NODES[0].replace(/\./g, '\\.')}/broken/meta/manifest\\.json is corrupt: `))],
      });
    }
  }, 60_000);

  test('an index entry without its data is named', async () => {
    const l = new Layout(p2, NODES[1]);
    await storage.putBytes(l.index('orphan', 'tokenmap'), '{}');
    const r = await cli2(['list-backups', '--show-all']);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([`medusa: backup orphan of ${NODES[1]}: neither a started_ index entry nor ${l.meta('orphan', 'schema.cql')}`]);
  }, 60_000);

  test('storage that does not answer is named', async () => {
    const ini = join(mkdtempSync(join(tmpdir(), 'catini-')), 'medusa.ini');
    writeFileSync(ini, readFileSync(s3Ini(p2, ''), 'utf8').replace(/^port = .*$/m, 'port = 1'));
    const r = await medusa(['--config-file', ini, 'list-backups']);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^medusa: .*127\.0\.0\.1:1/)]);
  }, 60_000);
});

test('build-index rebuilds a lost index: the same catalogue, differential backups still differential, latest backups set', async () => {
  const before = JSON.parse((await cli(['list-backups', '--show-all', '-o', 'json'])).stdout) as unknown[];
  expect(before).toHaveLength(4);
  const index: string[] = [];
  for await (const o of storage.list(`${prefix}/index/`)) index.push(o.key);
  for (const k of index) await storage.delete(k);
  const empty = await cli(['list-backups', '--show-all']);
  expect(empty).toMatchObject({ code: 0, stdout: '', stderr: 'No backups found in index. Consider running "medusa build-index"\n' });

  const noop = await cli(['build-index', '--noop']);
  expect(noop.code).toBe(0);
  expect(lines(noop.stdout)).toContain(`would index c1 of ${NODES[0]}: differential, finished`);
  expect(lines(noop.stdout)).toContain(`would index c2 of ${NODES[0]}: full, finished`);
  const stillEmpty: string[] = [];
  for await (const o of storage.list(`${prefix}/index/`)) stillEmpty.push(o.key);
  expect(stillEmpty).toEqual([]);

  const r = await cli(['build-index']);
  expect(r.code).toBe(0);
  expect(JSON.parse((await cli(['list-backups', '--show-all', '-o', 'json'])).stdout)).toEqual(before);
  for (const n of NODES) expect((await storage.getBytes(new Layout(prefix, n).latest('backup_name.txt')))?.toString()).toBe('c4');
  // Run again: nothing changes.
  const keys = async () => { const k: string[] = []; for await (const o of storage.list(`${prefix}/index/`)) k.push(`${o.key} ${o.size}`); return k.sort(); };
  const once = await keys();
  expect((await cli(['build-index'])).code).toBe(0);
  expect(await keys()).toEqual(once);
}, 300_000);
