/**
 * Restores on the real 3-node cluster, proven by content checksums (every row of a table, read at
 * consistency ALL, hashed): record them, back up, destroy data, restore, compare.
 *
 * - online table restore (nodetool import, the default with --table) from a differential backup:
 *   the truncated table comes back, a table written to after the backup keeps that write, and no
 *   file of the system keyspaces or of the other table changes;
 * - offline restore of the whole cluster from a full backup after truncating tables: nodes stopped,
 *   swapped, started one at a time; every table's checksum as before;
 * - onto a second cluster of the same size started for the test (other hosts, other tokens): each
 *   node pinned to its source's tokens, every checksum as in the backup;
 * - a node whose data directory was wiped, restored alone: metrics.readings (replication factor 1,
 *   so no other replica holds that node's share) comes back whole;
 * - a backup written by Python Medusa's own `medusa backup` restores with our workflow;
 * - the CLI as operators run it (`medusa restore-cluster … -pr 2 --table ks.t`), and its one-line refusals;
 * - refusals: unknown backup, incomplete backup (and --force), another topology; a node that does
 *   not come back names itself, the step, and where the replaced files are.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { Client } from 'cassandra-driver';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksumAll, TableChecksum, TABLES } from '../../sandbox/data';
import { startSecondRing, stopSecondRing } from '../../sandbox/index';
import { cqlClientFor, cqlClusterClient, DATACENTER } from '../../sandbox/parts/cassandra';
import { hostAddress, loadSettings, ringHosts } from '../../sandbox/settings';
import { MedusaConfig } from '../../src/config/medusa-config';
import { RestoreClusterInput, RestoreNodeInput, RestoreResult } from '../../src/workflows';
import { Harness, sandboxConfig, startHarness } from '../support/backup-harness';
import { lines, medusa } from '../support/cli';
import { uniqueId } from '../support/env';
import { NODES, onNode } from '../support/nodes';
import { clusterBackupWithPythonMedusa } from '../support/python-medusa';

const KS = 'restore_rt';
const A = `${KS}.a`;
const B = `${KS}.b`;
const settings = loadSettings();
let h: Harness;
let cql: Client;
let config: MedusaConfig;
let taskQueue: string;
const prefix = uniqueId('restore');

async function sums(tables: readonly string[]): Promise<Record<string, TableChecksum>> {
  return checksumAll(cql, tables);
}

/** Every node Up/Normal in every node's view (a restarted node must be back before the next CL ALL read). */
async function waitClusterUp(nodes: string[] = NODES): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const views = await Promise.all(nodes.map((n) => onNode(n, 'nodetool status').catch(() => '')));
    if (views.every((v) => v.split('\n').filter((l) => /^UN\s/.test(l)).length === nodes.length)) return;
    if (Date.now() > deadline) throw new Error(`the cluster is not all Up/Normal:\n${views.join('\n')}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** `<ks>/<table dir>/<file>` → size of the live files (no snapshots) of the given keyspaces on a node. */
async function liveFiles(node: string, keyspaces: string[]): Promise<string[]> {
  const out = await onNode(node, `cd /var/lib/cassandra/data && find ${keyspaces.join(' ')} -type f ! -path '*/snapshots/*' -printf '%s %p\\n' 2>/dev/null | sort; true`);
  return out.split('\n').filter(Boolean);
}

async function backup(backupName: string, mode: 'full' | 'differential'): Promise<void> {
  await h.client.workflow.execute('backupCluster', { taskQueue, workflowId: uniqueId('rt-backup'), args: [{ backupName, mode, seedTarget: NODES[0] }] });
}

function restoreCluster(input: RestoreClusterInput, queue = taskQueue): Promise<RestoreResult> {
  return h.client.workflow.execute('restoreCluster', { taskQueue: queue, workflowId: uniqueId('rt-restore'), args: [{ seedTarget: NODES[0], ...input }] });
}

function restoreNode(input: RestoreNodeInput, queue = taskQueue): Promise<RestoreResult> {
  return h.client.workflow.execute('restoreNode', { taskQueue: queue, workflowId: uniqueId('rt-restore-node'), args: [input] });
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkflowFailedError) return err.cause?.message ?? err.message;
    throw err;
  }
  throw new Error('expected the workflow to fail');
}

async function insertRows(table: string, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i += 100) {
    const batch = Array.from({ length: Math.min(100, from + count - i) }, (_, j) => i + j);
    await Promise.all(batch.map((k) => cql.execute(`INSERT INTO ${table} (k, c, v) VALUES (?, ?, ?)`, [k % 97, k, `row ${k} of ${table}`],
      { prepare: true, executionProfile: 'load' })));
  }
}

beforeAll(async () => {
  h = await startHarness();
  config = sandboxConfig('local', { prefix });
  ({ taskQueue } = await h.worker(config));
  cql = cqlClusterClient(settings);
  await cql.connect();
  await cql.execute(`CREATE KEYSPACE IF NOT EXISTS ${KS} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}`);
  for (const t of [A, B]) {
    await cql.execute(`CREATE TABLE IF NOT EXISTS ${t} (k int, c int, v text, PRIMARY KEY (k, c))`);
    await cql.execute(`TRUNCATE ${t}`);
    await insertRows(t, 0, 1500);
  }
  await Promise.all(NODES.map((n) => onNode(n, `nodetool flush ${KS}`)));
});

afterAll(async () => {
  await stopSecondRing(settings).catch(() => undefined);
  // Whatever a failed test left, the cluster must serve the next test file.
  await Promise.all(NODES.map((n) => onNode(n, 'cassandra-start').catch(() => undefined)));
  await waitClusterUp().catch(() => undefined);
  await cql?.execute(`DROP KEYSPACE IF EXISTS ${KS}`).catch(() => undefined);
  await cql?.shutdown();
  await h?.close();
});

test('online table restore (the default with --table) from a differential backup: the table is back, the others and the system keyspaces untouched', async () => {
  const before = await sums([A, B]);
  expect(before[A].rows).toBe(1500);
  await backup('rt-diff', 'differential');

  await cql.execute(`TRUNCATE ${A}`);
  await insertRows(B, 5000, 10); // written after the backup: a restore of A must not undo it
  await Promise.all(NODES.map((n) => onNode(n, `nodetool flush ${KS}`)));
  expect((await sums([A]))[A].rows).toBe(0);
  const bNow = (await sums([B]))[B];
  expect(bNow.rows).toBe(1510);
  const untouched = await Promise.all(NODES.map((n) => liveFiles(n, ['system_schema', 'system_auth', 'system_distributed', `${KS}/b-*`])));

  const r = await restoreCluster({ backupName: 'rt-diff', tables: [A] });

  expect(r.mode).toBe('online');
  expect(r.nodes.map((n) => n.fqdn).sort()).toEqual([...NODES].sort());
  for (const n of r.nodes) expect(n.tables).toBe(1);
  expect((await sums([A]))[A]).toEqual(before[A]);
  expect((await sums([B]))[B]).toEqual(bNow);
  expect(await Promise.all(NODES.map((n) => liveFiles(n, ['system_schema', 'system_auth', 'system_distributed', `${KS}/b-*`])))).toEqual(untouched);
  // Nothing of the restore stays on the nodes.
  for (const n of NODES) expect(await onNode(n, 'ls -d /var/lib/cassandra/medusa-restore-* 2>/dev/null; true')).toBe('');
});

test('offline restore of the whole cluster from a full backup after truncating tables: every checksum as before', async () => {
  const tables = [A, B, ...TABLES];
  const before = await sums(tables);
  await backup('rt-full', 'full');
  await cql.execute(`TRUNCATE ${A}`);
  await cql.execute(`TRUNCATE ${B}`);
  await cql.execute('TRUNCATE shop.orders');
  expect((await sums(['shop.orders']))['shop.orders'].rows).toBe(0);

  const started = Date.now();
  const r = await restoreCluster({ backupName: 'rt-full' });
  process.stderr.write(`offline cluster restore of rt-full: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  expect(r.mode).toBe('offline');
  expect(r.nodes).toHaveLength(3);
  await waitClusterUp();
  await cql.shutdown();
  cql = cqlClusterClient(settings);
  await cql.connect();
  expect(await sums(tables)).toEqual(before);
  // The truncation's own snapshots (auto_snapshot) were left where they were.
  expect(await onNode(NODES[0], `ls /var/lib/cassandra/data/${KS}/a-*/snapshots | grep -c truncated`)).not.toBe('0\n');
}, 900_000);

test('onto another cluster of the same size (token pinning): each node takes its source\'s tokens, every checksum as in the backup', async () => {
  const tables = [A, B, ...TABLES];
  const expected = await sums(tables); // the cluster was just restored to rt-full
  const ring = await startSecondRing(settings);
  const targets = ringHosts(ring).map(hostAddress);
  const other = new Client({ contactPoints: targets, localDataCenter: DATACENTER, socketOptions: { readTimeout: 30_000 } });
  try {
    const started = Date.now();
    const r = await restoreCluster({ backupName: 'rt-full', seedTarget: targets[0] });
    process.stderr.write(`offline restore of rt-full onto another cluster: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

    // Both rings are balanced (the second shifted): token order pairs node i with target i.
    expect(r.nodes.map((n) => [n.source, n.fqdn])).toEqual(NODES.map((n, i) => [n, targets[i]]));
    await waitClusterUp(targets);
    await other.connect();
    expect(await checksumAll(other, tables)).toEqual(expected);
    for (const [i, target] of targets.entries()) {
      const own = cqlClientFor(target);
      const source = cqlClientFor(NODES[i]);
      try {
        const tokensOf = async (c: Client) => [...((await c.execute('SELECT tokens FROM system.local')).rows[0].tokens as string[])].sort();
        expect(await tokensOf(own)).toEqual(await tokensOf(source));
      } finally {
        await own.shutdown();
        await source.shutdown();
      }
    }
  } finally {
    await other.shutdown();
    await stopSecondRing(settings);
  }
}, 1_200_000);

test('a node whose data directory was wiped comes back whole from restore-node (RF 1 data included)', async () => {
  const node = NODES[2];
  const before = await sums(['metrics.readings', A]);
  await backup('rt-wipe', 'differential');
  await onNode(node, 'cassandra-stop && rm -rf /var/lib/cassandra/data/* /var/lib/cassandra/commitlog/*');

  const r = await restoreNode({ backupName: 'rt-wipe', fqdn: node });

  expect(r.mode).toBe('offline');
  expect(r.nodes[0].downloadedBytes).toBeGreaterThan(0);
  await waitClusterUp();
  expect(await sums(['metrics.readings', A])).toEqual(before);
}, 900_000);

test('a backup written by Python Medusa restores with our restore-cluster', async () => {
  const before = await sums([A]);
  await clusterBackupWithPythonMedusa({ prefix, backupName: 'rt-python', mode: 'differential' });
  await cql.execute(`TRUNCATE ${A}`);

  // With Medusa's verify step: [checks] query and expected_rows of the worker's medusa.ini.
  const checking = sandboxConfig('local', { prefix });
  Object.assign(checking.checks, { query: `SELECT v FROM ${A} WHERE k = 5`, expectedRows: 16 });
  const { taskQueue: checkingQueue } = await h.worker(checking);

  const r = await restoreCluster({ backupName: 'rt-python', tables: [A], verify: true }, checkingQueue);

  expect(r.nodes).toHaveLength(3);
  expect(r.verified).toEqual({ query: `SELECT v FROM ${A} WHERE k = 5`, rows: 16 });
  expect((await sums([A]))[A]).toEqual(before[A]);
}, 900_000);

test('refusals: unknown backup, incomplete backup (unless forced), another topology, in one line each', async () => {
  expect(await failure(restoreCluster({ backupName: 'rt-none' }))).toMatch(/rt-none/);

  // A cluster backup with one node only: incomplete.
  await h.client.workflow.execute('backupNode', { taskQueue, workflowId: uniqueId('rt-one'), args: [{ backupName: 'rt-one', fqdn: NODES[0] }] });
  const incomplete = await failure(restoreCluster({ backupName: 'rt-one', tables: [A] }));
  expect(incomplete).toMatch(/backup rt-one is incomplete: .*127\.0\.0\.3 \(no backup\).*--force/);
  const forced = await restoreCluster({ backupName: 'rt-one', tables: [A], force: true });
  expect(forced.nodes.map((n) => n.fqdn)).toEqual([NODES[0]]);
  expect(forced.skipped).toEqual([NODES[1], NODES[2]]);

  // Onto other hosts, every node of that cluster must get a backup node (else it keeps its tokens, overlapping).
  const moved = await failure(restoreCluster({ backupName: 'rt-diff', hostList: [{ seed: true, target: NODES[1], source: NODES[0] }] }));
  expect(moved).toMatch(/does not fit the cluster of 127\.0\.0\.3: .*127\.0\.0\.2, 127\.0\.0\.4 would not/);
  expect(await failure(restoreCluster({ backupName: 'rt-diff', tables: ['nodot'] }))).toMatch(/<keyspace>\.<table>/);
}, 600_000);

test('a node that does not come back: the failure names the node, the step and where the replaced files are', async () => {
  const node = NODES[1];
  const broken = sandboxConfig('local', { prefix });
  broken.cassandra.startCmd = 'echo cannot start >&2; exit 3';
  const { taskQueue: brokenQueue } = await h.worker(broken);
  const before = await sums([A]);

  const text = await failure(restoreNode({ backupName: 'rt-diff', fqdn: node, keyspaces: [KS], mode: 'offline' }, brokenQueue));

  expect(text).toMatch(new RegExp(`^${node.replace(/\./g, '\\.')}: starting Cassandra failed: start_cmd .* exited 3: cannot start; .*previous`));
  expect(await onNode(node, 'ls -d /var/lib/cassandra/medusa-restore-*/previous')).toMatch(/previous/);
  // The operator's fix: start it; the data is the backup's.
  await onNode(node, 'cassandra-start');
  await waitClusterUp();
  expect((await sums([A]))[A]).toEqual(before[A]);
  await onNode(node, 'rm -rf /var/lib/cassandra/medusa-restore-*');
}, 900_000);

test('the CLI: restore-cluster --table as operators run it, and one line for each bad input', async () => {
  const before = await sums([A]);
  await cql.execute(`TRUNCATE ${A}`);
  const cli = (args: string[]) => medusa(['--prefix', prefix, ...args, '--task-queue', taskQueue]);

  const ok = await cli(['restore-cluster', '--backup-name', 'rt-diff', '--seed-target', NODES[0], '--table', A, '-pr', '2']);

  expect(ok.code).toBe(0);
  expect(lines(ok.stdout)).toEqual([
    ...[...NODES].sort().map((n) => expect.stringMatching(new RegExp(`^restored rt-diff on ${n.replace(/\./g, '\\.')}: 1 tables, \\d+ files, `))),
    'restore of rt-diff done (online): 3 nodes',
  ]);
  expect((await sums([A]))[A]).toEqual(before[A]);

  // Medusa's --host-list (seed,target,source): only the nodes listed are restored.
  const list = join(mkdtempSync(join(tmpdir(), 'hosts-')), 'hosts.txt');
  writeFileSync(list, `# one node only\nTrue,${NODES[0]},${NODES[0]}\n\n`);
  const one = await cli(['restore-cluster', '--backup-name', 'rt-diff', '--host-list', list, '--keyspace', KS, '--online']);
  expect(one.code).toBe(0);
  expect(lines(one.stdout)).toEqual([expect.stringMatching(new RegExp(`^restored rt-diff on ${NODES[0].replace(/\./g, '\\.')}: 2 tables, `)), 'restore of rt-diff done (online): 1 node']);

  const refusals: [string[], RegExp, number][] = [
    [['restore-cluster', '--backup-name', 'rt-diff'], /^medusa: give either --seed-target or --host-list/, 2],
    [['restore-cluster', '--backup-name', 'rt-diff', '--seed-target', NODES[0], '-pr', '0'], /^medusa: --parallel-restores must be a whole number ≥ 1, not 0$/, 2],
    [['restore-node', '--backup-name', 'rt-diff', '--remote'], /^medusa: restore-node restores in place; to restore onto other hosts use restore-cluster/, 2],
    [['restore-node', '--backup-name', 'rt-diff', '--online', '--offline'], /^medusa: --online and --offline cannot be used together$/, 2],
    [['restore-cluster', '--backup-name', 'rt-none', '--seed-target', NODES[0]], /^medusa: restore of rt-none failed: .*rt-none/, 1],
  ];
  for (const [args, message, code] of refusals) {
    const r = await cli(args);
    expect({ args, code: r.code, last: lines(r.stderr.trim()).pop() }).toEqual({ args, code, last: expect.stringMatching(message) });
  }
}, 600_000);
