/**
 * `backupCluster` on the real 3-node cluster over real sshd: every node backed up, the upload
 * window honoured, failures and cancellation leave no snapshot, stagger drops a node that waits
 * too long, and the Temporal UI's single-JSON start works.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Layout } from '../../src/plan/layout';
import { backupCluster, BackupClusterInput, ClusterProgress, clusterProgress, setParallelUploads } from '../../src/workflows';
import { Harness, listKeys, sandboxConfig, startHarness } from '../support/backup-harness';
import { sandbox, uniqueId } from '../support/env';
import { NODES, onNode, snapshotsLeft } from '../support/nodes';
import { loadSettings } from '../../sandbox/settings';
import { clusterLockId } from '../../src/shared/constants';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 120_000);
afterAll(async () => h?.close());

/** Largest number of node uploads that overlapped in time. */
function maxOverlap(p: ClusterProgress): number {
  const edges = p.nodes.filter((n) => n.uploadStartedAt !== undefined).flatMap((n) => [[n.uploadStartedAt!, 1], [n.uploadEndedAt!, -1]]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (now += d));
  return max;
}

async function runCluster(taskQueue: string, input: BackupClusterInput, id = uniqueId('cluster')) {
  return h.client.workflow.execute(backupCluster, { taskQueue, workflowId: id, args: [input], workflowExecutionTimeout: '10 minutes' });
}

test('a cluster backup backs up every node, at most -pu nodes at a time, and exactly one with -pu 1', async () => {
  const prefix = uniqueId('cl').replace(/-/g, '');
  const { taskQueue, storage } = await h.worker(sandboxConfig('local', { prefix }));
  const two = await runCluster(taskQueue, { backupName: 'pu2', seedTarget: '127.0.0.2', prefix, parallelUploads: 2 });
  expect(two.nodes.map((n) => [n.fqdn, n.phase])).toEqual(NODES.map((n) => [n, 'finished']));
  expect(maxOverlap(two)).toBe(2);
  for (const n of NODES) {
    const l = new Layout(prefix, n);
    for (const key of [l.meta('pu2', 'schema.cql'), l.meta('pu2', 'tokenmap.json'), l.meta('pu2', 'manifest.json'), l.index('pu2', 'manifest'), l.latest('backup_name.txt')]) {
      expect(await storage.head(key)).toBeDefined();
    }
  }
  expect(await snapshotsLeft('medusa-pu2')).toEqual([]);
  const one = await runCluster(taskQueue, { backupName: 'pu1', seedTarget: '127.0.0.2', prefix, parallelUploads: 1 });
  expect(one.nodes.every((n) => n.phase === 'finished')).toBe(true);
  expect(maxOverlap(one)).toBe(1);
  // Same name again: refused before anything is written.
  const keys = await listKeys(storage, `${prefix}/`);
  const err = await runCluster(taskQueue, { backupName: 'pu1', seedTarget: '127.0.0.2', prefix }).catch((e: unknown) => e);
  expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/^Backup named pu1 already exists/);
  expect(await listKeys(storage, `${prefix}/`)).toEqual(keys);
}, 400_000);

test('started like the Temporal UI does, with only {"backupName"}, the rest comes from the worker configuration', async () => {
  const prefix = uniqueId('ui').replace(/-/g, '');
  const { taskQueue } = await h.worker(sandboxConfig('local', { prefix, fqdn: '127.0.0.2' }));
  const r = await runCluster(taskQueue, { backupName: 'fromui' });
  expect(r.nodes.map((n) => n.phase)).toEqual(['finished', 'finished', 'finished']);
}, 300_000);

test('a node whose host key is not known fails the run naming it, and no snapshot is left on any node', async () => {
  const prefix = uniqueId('hk').replace(/-/g, '');
  const config = sandboxConfig('local', { prefix });
  const knownHosts = join(mkdtempSync(join(tmpdir(), 'kh-')), 'known_hosts');
  writeFileSync(knownHosts, readFileSync(sandbox('SANDBOX_SSH_KNOWN_HOSTS'), 'utf8').split('\n').filter((l) => !l.startsWith('[127.0.0.4]')).join('\n'));
  config.ssh.knownHosts = knownHosts;
  const { taskQueue } = await h.worker(config);
  const err = await runCluster(taskQueue, { backupName: 'hk', seedTarget: '127.0.0.2', prefix }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const message = String((err as WorkflowFailedError).cause?.message);
  expect(message).toMatch(/^backup hk is incomplete: /);
  expect(message).toContain('127.0.0.4: snapshot: [127.0.0.4]:2222 is not in known_hosts');
  expect(await snapshotsLeft('medusa-hk')).toEqual([]);
}, 300_000);

test('stagger: while the first node uploads slowly, the next ones wait for it, then are dropped with the reason', async () => {
  const prefix = uniqueId('st').replace(/-/g, '');
  const config = sandboxConfig('s3', { prefix });
  config.storage.transferMaxBandwidth = 40 * 1024;
  const { taskQueue } = await h.worker(config);
  const err = await runCluster(taskQueue, { backupName: 'st', seedTarget: '127.0.0.2', prefix, parallelUploads: 3, stagger: 3 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const progress = (err as WorkflowFailedError).cause as unknown as { details: ClusterProgress[] };
  const nodes = progress.details[0].nodes;
  expect(nodes.map((n) => n.phase)).toEqual(['finished', 'dropped', 'dropped']);
  expect(nodes[1].error).toBe('dropped: 127.0.0.2 (before it in token order) did not finish within the stagger time of 3 s');
  expect(nodes[2].error).toBe('dropped: 127.0.0.3 (before it in token order) did not finish within the stagger time of 3 s');
  expect(await snapshotsLeft('medusa-st')).toEqual([]);
}, 400_000);

test('parallel uploads can be changed while running; cancelling stops the uploads and clears every snapshot', async () => {
  const prefix = uniqueId('cx').replace(/-/g, '');
  const config = sandboxConfig('s3', { prefix });
  config.storage.transferMaxBandwidth = 40 * 1024;
  const { taskQueue } = await h.worker(config);
  const handle = await h.client.workflow.start(backupCluster, { taskQueue, workflowId: uniqueId('cx'), args: [{ backupName: 'cx', seedTarget: '127.0.0.2', prefix }] });
  for (let i = 0; i < 120; i++) {
    const p = await handle.query(clusterProgress).catch(() => undefined);
    if (p?.nodes.some((n) => n.phase === 'uploading')) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const refused = await handle.executeUpdate(setParallelUploads, { args: [0] }).catch((e: Error) => e);
  expect(String((refused as Error & { cause?: Error }).cause?.message)).toMatch(/whole number ≥ 1/);
  expect(await handle.executeUpdate(setParallelUploads, { args: [2] })).toBe(1);
  expect((await handle.query(clusterProgress)).parallelUploads).toBe(2);

  // While it runs, the workflow itself refuses another backup of this cluster into this catalogue.
  const lockId = clusterLockId(loadSettings().clusterName, config.storage.bucketName, prefix);
  expect((await h.client.workflow.getHandle(lockId).describe()).status.name).toBe('RUNNING');
  const busy = await runCluster(taskQueue, { backupName: 'cx2', seedTarget: '127.0.0.2', prefix }).catch((e: unknown) => e);
  expect(busy).toBeInstanceOf(WorkflowFailedError);
  expect((busy as WorkflowFailedError).cause).toMatchObject({
    type: 'ClusterBusy',
    message: `another backup or restore of cluster ${lockId.slice('medusa-cluster-lock/'.length)} is running (workflow ${handle.workflowId}): backups and restores of a cluster run one at a time`,
  });
  expect(await snapshotsLeft('medusa-cx2')).toEqual([]);

  await handle.cancel();
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  const d = await handle.describe();
  expect(d.status.name).toBe('CANCELLED');
  expect(d.searchAttributes.MedusaBackupOutcome).toEqual(['cancelled']);
  expect(await snapshotsLeft('medusa-cx')).toEqual([]);
  // Released after the cleanup, not at the cancel request.
  expect((await h.client.workflow.getHandle(lockId).describe()).status.name).toBe('COMPLETED');
}, 300_000);

test('a terminated cluster backup leaves no lock behind: the next backup of the cluster runs', async () => {
  const prefix = uniqueId('tm').replace(/-/g, '');
  const config = sandboxConfig('s3', { prefix });
  config.storage.transferMaxBandwidth = 40 * 1024;
  const { taskQueue } = await h.worker(config);
  const lockId = clusterLockId(loadSettings().clusterName, config.storage.bucketName, prefix);
  const handle = await h.client.workflow.start(backupCluster, { taskQueue, workflowId: uniqueId('tm'), args: [{ backupName: 'tm', seedTarget: '127.0.0.2', prefix }] });
  for (let i = 0; i < 120 && (await handle.query(clusterProgress).catch(() => undefined))?.stage !== 'uploads'; i++) await new Promise((r) => setTimeout(r, 500));
  expect((await h.client.workflow.getHandle(lockId).describe()).status.name).toBe('RUNNING');
  // Terminating skips every cleanup in the workflow; the server's parent-close policy still ends the lock.
  await handle.terminate('test: an operator terminates the run');
  let lock = '';
  for (let i = 0; i < 40 && (lock = (await h.client.workflow.getHandle(lockId).describe()).status.name) === 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 250));
  expect(lock).toBe('TERMINATED');
  await Promise.all(NODES.map((n) => onNode(n, 'nodetool clearsnapshot -t medusa-tm')));
  config.storage.transferMaxBandwidth = 0;
  const { taskQueue: fast } = await h.worker(config);
  const next = await runCluster(fast, { backupName: 'tm2', seedTarget: '127.0.0.2', prefix, mode: 'full' });
  expect(next.nodes.map((n) => n.phase)).toEqual(['finished', 'finished', 'finished']);
}, 400_000);

test('a seed target that does not answer is named in one line, and nothing is snapshotted', async () => {
  const prefix = uniqueId('seed').replace(/-/g, '');
  const { taskQueue } = await h.worker(sandboxConfig('local', { prefix }));
  const err = await runCluster(taskQueue, { backupName: 'seed', seedTarget: '127.0.0.9', prefix }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const message = String((err as WorkflowFailedError).cause?.message);
  expect(message).toMatch(/^127\.0\.0\.9: discover the cluster: cannot reach the seed target 127\.0\.0\.9 over CQL/);
  expect(message.split('\n')).toHaveLength(1);
  expect(await snapshotsLeft('medusa-seed')).toEqual([]);
}, 300_000);

test('an SSH key the nodes refuse fails every node at once, by name, and leaves no snapshot', async () => {
  const prefix = uniqueId('key').replace(/-/g, '');
  const config = sandboxConfig('local', { prefix });
  const dir = mkdtempSync(join(tmpdir(), 'key-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  config.ssh.keyFile = join(dir, 'id');
  const { taskQueue } = await h.worker(config);
  const started = Date.now();
  const err = await runCluster(taskQueue, { backupName: 'key', seedTarget: '127.0.0.2', prefix }).catch((e: unknown) => e);
  const message = String((err as WorkflowFailedError).cause?.message);
  for (const n of NODES) expect(message).toContain(`${n}: snapshot: ssh root@${n}:2222: key ${join(dir, 'id')} was refused`);
  expect(Date.now() - started).toBeLessThan(60_000); // permanent: not retried
  expect(await snapshotsLeft('medusa-key')).toEqual([]);
}, 300_000);
