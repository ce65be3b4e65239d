/**
 * Durability of a node backup on real parts: a worker killed mid-upload and replaced finishes the
 * backup without sending finished files again; a cancelled backup clears its snapshot; stagger
 * waits on durable timers; no secret reaches a workflow history; planning with md5 checks resumes from
 * its checkpoint; transfer_max_bandwidth holds for uploads and downloads, on S3 and local storage, and an
 * update changes it for a running backup, download or backup-cluster (every node's backup).
 */
import { WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layout } from '../../src/plan/layout';
import { parseManifest } from '../../src/plan/manifest';
import { runWorkDir } from '../../src/plan/work-dir';
import { hashCheckpointPath } from '../../src/activities/backup/plan';
import { backupCluster, backupNode, BackupNodeResult, downloadNode, setTransferMaxBandwidth, transferMaxBandwidth } from '../../src/workflows';
import { Storage } from '../../src/storage/storage';
import { Harness, listKeys, s3Ini, sandboxConfig, startHarness } from '../support/backup-harness';
import { sandbox, uniqueId } from '../support/env';
import { onNode } from '../support/nodes';

const repo = join(__dirname, '..', '..');
let h: Harness;
const spawned: ChildProcess[] = [];

beforeAll(async () => {
  h = await startHarness();
}, 120_000);

afterAll(async () => {
  for (const p of spawned) if (p.exitCode === null) p.kill('SIGKILL');
  await h?.close();
});

/** medusa.ini for the sandbox S3 server, written the way an operator would. */
function startWorkerProcess(ini: string, taskQueue: string): ChildProcess {
  const p = spawn('node', [join(repo, 'bin', 'medusa.js'), '--config-file', ini, 'worker', '--task-queue', taskQueue], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, stdio: ['ignore', 'ignore', 'ignore'],
  });
  spawned.push(p);
  return p;
}

/** Snapshot directories with this tag on a node ('' when there are none). */
const snapshotDirs = async (host: string, tag: string) => (await onNode(host, `find /var/lib/cassandra/data -type d -path "*/snapshots/${tag}"`)).trim();

/** Kills the worker (SIGKILL) once `atLeast` objects are complete under `root`; returns how many were complete then. */
async function killWhenSent(worker: ChildProcess, storage: Storage, root: string, atLeast: number): Promise<number> {
  for (let i = 0; i < 240 && (await listKeys(storage, root)).length < atLeast; i++) await new Promise((r) => setTimeout(r, 500));
  expect((await listKeys(storage, root)).length).toBeGreaterThanOrEqual(atLeast);
  worker.kill('SIGKILL');
  await new Promise((r) => worker.once('exit', r));
  return (await listKeys(storage, root)).length;
}

test('a worker killed during the upload is replaced; the backup completes and finished files are not sent again', async () => {
  const prefix = uniqueId('crash').replace(/-/g, '');
  const taskQueue = uniqueId('crash-q');
  const slow = startWorkerProcess(s3Ini(prefix, 'transfer_max_bandwidth = 100KB/s\nconcurrent_transfers = 1'), taskQueue);
  const { storage } = await h.worker(sandboxConfig('s3', { prefix })); // only to look into the bucket
  const handle = await h.client.workflow.start(backupNode, {
    taskQueue, workflowId: `${prefix}/b1`, args: [{ backupName: 'b1', fqdn: '127.0.0.4', prefix }], workflowExecutionTimeout: '10 minutes',
  });
  const dataRoot = new Layout(prefix, '127.0.0.4').dataRoot('differential', 'b1');
  const sentBeforeKill = await killWhenSent(slow, storage, dataRoot, 40);

  startWorkerProcess(s3Ini(prefix, 'concurrent_transfers = 4'), taskQueue);
  const r: BackupNodeResult = await handle.result();
  expect(r.alreadyPresentFiles).toBeGreaterThanOrEqual(sentBeforeKill);
  expect(r.uploadedFiles + r.alreadyPresentFiles).toBe(r.files);
  expect(r.uploadedFiles).toBeLessThanOrEqual(r.files - sentBeforeKill);
  // The upload activity ran twice: the second attempt, on the new worker, after the heartbeat timed out.
  const history = await handle.fetchHistory();
  const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
  expect(attempts).toContain(2);
  const manifest = parseManifest((await storage.getBytes(new Layout(prefix, '127.0.0.4').meta('b1', 'manifest.json')))!.toString());
  const keys = new Set(await listKeys(storage, dataRoot));
  for (const o of manifest.flatMap((s) => s.objects)) expect(keys.has(o.path)).toBe(true);
  expect(await snapshotDirs('127.0.0.4', 'medusa-b1')).toBe('');

  // No secret of the worker's configuration is in the history: not the S3 keys, not the SSH private key.
  // Payload bytes (inputs, results, heartbeat details, failures, search attributes) decoded to text.
  const text = JSON.stringify(history, (k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    return k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v;
  });
  expect(text).toContain('127.0.0.4'); // the history is readable: the check below is meaningful
  expect(text).not.toContain(sandbox('SANDBOX_S3_SECRET_ACCESS_KEY'));
  expect(text).not.toContain(sandbox('SANDBOX_S3_ACCESS_KEY_ID'));
  const privateKey = readFileSync(sandbox('SANDBOX_SSH_KEY'), 'utf8').split('\n').filter((l) => l.length > 40)[1];
  expect(text).not.toContain(privateKey);
}, 400_000);

test('planning with md5 checks resumes: the verdicts an earlier attempt checkpointed on the node are taken without hashing those files again', async () => {
  const prefix = uniqueId('hashck').replace(/-/g, '');
  const fqdn = '127.0.0.3';
  const config = sandboxConfig('s3', { prefix });
  const { taskQueue, storage } = await h.worker(config);
  await h.client.workflow.execute(backupNode, { taskQueue, workflowId: `${prefix}/h1`, args: [{ backupName: 'h1', fqdn, prefix }], workflowExecutionTimeout: '5 minutes' });
  const layout = new Layout(prefix, fqdn);
  const pool: { key: string; size: number; hash: string; lastModified: number }[] = [];
  for await (const o of storage.list(layout.dataRoot('differential', 'h1'))) if (o.hash && o.size > 0) pool.push({ key: o.key, size: o.size, hash: o.hash, lastModified: o.lastModified.getTime() });
  const largest = pool.sort((a, b) => b.size - a.size)[0];
  const [ks, tableDir, ...rest] = largest.key.slice(layout.dataRoot('differential', 'h1').length).split('/');
  const path = `/var/lib/cassandra/data/${ks}/${tableDir}/snapshots/medusa-h2/${rest.join('/')}`;

  // The second backup waits on a queue no worker polls yet, so the test can leave an earlier attempt's checkpoint
  // where its planning looks: a verdict of "changed" for a file that is in fact unchanged.
  const idleQueue = uniqueId('hashck-q');
  const tempDir = `/tmp/${prefix}`;
  const handle = await h.client.workflow.start(backupNode, {
    taskQueue: idleQueue, workflowId: `${prefix}/h2`, args: [{ backupName: 'h2', fqdn, prefix, enableMd5Checks: true, tempDir }], workflowExecutionTimeout: '5 minutes',
  });
  const checkpoint = hashCheckpointPath(runWorkDir(tempDir, `${prefix}/h2`, handle.firstExecutionRunId));
  const planted = JSON.stringify({ [path]: { size: largest.size, stored: largest.hash, action: 'upload' } });
  await onNode(fqdn, `mkdir -p "$(dirname '${checkpoint}')" && printf '%s' '${planted}' > '${checkpoint}'`);
  await h.worker(config, idleQueue);
  const r = await handle.result();

  // The other files were hashed (and found unchanged); the checkpointed one was taken as changed, unhashed, and sent again.
  const others = pool.reduce((a, o) => a + o.size, 0) - largest.size;
  expect(r.hashedBytes).toBeGreaterThan(0);
  expect(r.hashedBytes).toBeLessThanOrEqual(others);
  expect(r.uploadedBytes).toBeGreaterThanOrEqual(largest.size);
  const after = await storage.head(largest.key);
  expect(after?.lastModified.getTime()).toBeGreaterThan(largest.lastModified);
  expect(await onNode(fqdn, `ls -d ${tempDir}/medusa-temporal/* 2>/dev/null || true`)).toBe('');
}, 300_000);

test('a cancelled backup stops its upload and clears its snapshot, and is marked cancelled', async () => {
  const prefix = uniqueId('cancel').replace(/-/g, '');
  const config = sandboxConfig('s3', { prefix });
  config.storage.transferMaxBandwidth = 50 * 1024;
  config.storage.concurrentTransfers = 1;
  const { taskQueue } = await h.worker(config);
  const handle = await h.client.workflow.start(backupNode, {
    taskQueue, workflowId: `${prefix}/c1`, args: [{ backupName: 'c1', fqdn: '127.0.0.3', prefix }], workflowExecutionTimeout: '10 minutes',
  });
  for (let i = 0; i < 120; i++) {
    const d = await handle.describe();
    if ((d.raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'uploadFiles')) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(await snapshotDirs('127.0.0.3', 'medusa-c1')).not.toBe('');
  await handle.cancel();
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  expect(await snapshotDirs('127.0.0.3', 'medusa-c1')).toBe('');
  expect((await handle.describe()).searchAttributes.MedusaBackupOutcome).toEqual(['cancelled']);
}, 300_000);

test('stagger: a node waits for the node before it in token order, and gives up after the stagger time', async () => {
  const prefix = uniqueId('stagger').replace(/-/g, '');
  const { taskQueue } = await h.worker(sandboxConfig('local', { prefix }));
  const run = (fqdn: string, name: string, stagger: number) => h.client.workflow.execute(backupNode, {
    taskQueue, workflowId: `${prefix}/${name}/${fqdn}`, args: [{ backupName: name, fqdn, prefix, stagger }], workflowExecutionTimeout: '5 minutes',
  });
  // 127.0.0.3 comes after 127.0.0.2 in token order; 127.0.0.2 has no backup yet under this prefix.
  const started = Date.now();
  const err = await run('127.0.0.3', 's1', 4).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/^Backups on previous nodes did not complete within our stagger time \(4 s\): waiting for 127\.0\.0\.2/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
  expect(await snapshotDirs('127.0.0.3', 'medusa-s1')).toBe(''); // it stopped before its snapshot
  // The first node in token order never waits; once it has finished, the next one goes ahead.
  await run('127.0.0.2', 's2', 4);
  const r = await run('127.0.0.3', 's3', 4);
  expect(r.fqdn).toBe('127.0.0.3');
}, 300_000);

test('a worker killed during phase 2 of a cluster backup is replaced; the cluster backup completes, finished files not sent again', async () => {
  const prefix = uniqueId('clcrash').replace(/-/g, '');
  const taskQueue = uniqueId('clcrash-q');
  const slow = startWorkerProcess(s3Ini(prefix, 'transfer_max_bandwidth = 100KB/s\nconcurrent_transfers = 1'), taskQueue);
  const { storage } = await h.worker(sandboxConfig('s3', { prefix })); // only to look into the bucket
  const clusterId = `${prefix}/cluster`;
  const handle = await h.client.workflow.start(backupCluster, {
    taskQueue, workflowId: clusterId, args: [{ backupName: 'c1', seedTarget: '127.0.0.2', prefix }], workflowExecutionTimeout: '15 minutes',
  });
  const dataRoot = new Layout(prefix, '127.0.0.2').dataRoot('differential', 'c1');
  const sentBeforeKill = await killWhenSent(slow, storage, dataRoot, 40);
  startWorkerProcess(s3Ini(prefix, 'concurrent_transfers = 4'), taskQueue);
  const r = await handle.result();
  expect(r.nodes.map((n) => n.phase)).toEqual(['finished', 'finished', 'finished']);
  const first: BackupNodeResult = await h.client.workflow.getHandle(`${clusterId}/127.0.0.2`).result();
  expect(first.alreadyPresentFiles).toBeGreaterThanOrEqual(sentBeforeKill);
  expect(first.uploadedFiles + first.alreadyPresentFiles).toBe(first.files);
  for (const n of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) expect(await snapshotDirs(n, 'medusa-c1')).toBe('');
}, 600_000);

/** What the running uploadFiles step of `handle` last heartbeated (its progress), or undefined before it runs. */
async function uploadProgress(handle: { describe(): Promise<{ raw: { pendingActivities?: { activityType?: { name?: string | null } | null; heartbeatDetails?: { payloads?: { data?: Uint8Array | null }[] | null } | null }[] | null } }> }, step = 'uploadFiles') {
  const d = await handle.describe().catch(() => undefined);
  const a = (d?.raw.pendingActivities ?? []).find((x) => x.activityType?.name === step);
  const data = a?.heartbeatDetails?.payloads?.[0]?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { bytesDone: number; bytesTotal: number }) : undefined;
}

/** Seconds the (last) `step` activity of a finished workflow ran, from its history. */
async function stepSeconds(handle: WorkflowHandle, step = 'uploadFiles'): Promise<number> {
  const events = (await handle.fetchHistory()).events!;
  const from = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).lastIndexOf(step);
  const at = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) + (e.eventTime!.nanos ?? 0) / 1e9;
  return at(events.slice(from).find((e) => e.activityTaskCompletedEventAttributes)!) - at(events.slice(from).find((e) => e.activityTaskStartedEventAttributes)!);
}
const uploadSeconds = (handle: WorkflowHandle) => stepSeconds(handle);

test('transfer_max_bandwidth holds for a running backup, and an update changes it while the files are on the wire', async () => {
  const prefix = uniqueId('bw').replace(/-/g, '');
  const { taskQueue } = await h.worker(sandboxConfig('s3', { prefix }));
  // The node's sample data is about 1 MiB in some 330 files.
  const start = (name: string, transferMaxBandwidth: string) => h.client.workflow.start(backupNode, {
    taskQueue, workflowId: `${prefix}/${name}`, args: [{ backupName: name, fqdn: '127.0.0.2', prefix, mode: 'full', transferMaxBandwidth }], workflowExecutionTimeout: '10 minutes',
  });
  // At 128 KiB/s the upload takes about 8 s: the rate over the whole step, its first second's burst left out, within 10%.
  const rate = 128 * 1024;
  const limited = await start('bw1', '128KB/s');
  const r1 = await limited.result();
  const measured = (r1.uploadedBytes - rate) / (await uploadSeconds(limited));
  expect(measured).toBeGreaterThan(rate * 0.9);
  expect(measured).toBeLessThan(rate * 1.1);

  // At 16 KiB/s it would take a minute: raised to unlimited once it runs, the rest goes at once.
  const slow = await start('bw2', '16KB/s');
  for (let i = 0; i < 240 && !(await uploadProgress(slow)); i++) await new Promise((r) => setTimeout(r, 250));
  const bad = await slow.executeUpdate(setTransferMaxBandwidth, { args: ['fast'] }).catch((e: unknown) => e);
  expect(String((bad as { cause?: Error }).cause?.message)).toMatch(/^transfer_max_bandwidth = fast is not a size/);
  const old = await slow.executeUpdate(setTransferMaxBandwidth, { args: ['0'] });
  expect(old).toBe(16 * 1024);
  expect(await slow.query(transferMaxBandwidth)).toBe(0);
  const r2 = await slow.result();
  expect(r2.uploadedBytes).toBe(r2.bytes);
  // Unlimited from the step's next poll (every 3 s): far less than the minute 16 KiB/s needs.
  expect(await uploadSeconds(slow)).toBeLessThan(r2.bytes / (16 * 1024) / 3);
}, 400_000);

test('on local storage too: the upload and the download of a node each hold transfer_max_bandwidth, and an update frees a running download', async () => {
  const prefix = uniqueId('bwlocal').replace(/-/g, '');
  const { taskQueue } = await h.worker(sandboxConfig('local', { prefix }));
  const rate = 128 * 1024;
  const within10 = (bytes: number, seconds: number) => {
    // The first second's burst left out, as above.
    const measured = (bytes - rate) / seconds;
    expect(measured).toBeGreaterThan(rate * 0.9);
    expect(measured).toBeLessThan(rate * 1.1);
  };
  const backup = await h.client.workflow.start(backupNode, {
    taskQueue, workflowId: `${prefix}/b`, args: [{ backupName: 'b', fqdn: '127.0.0.2', prefix, mode: 'full', transferMaxBandwidth: '128KB/s' }], workflowExecutionTimeout: '10 minutes',
  });
  const b = await backup.result();
  within10(b.uploadedBytes, await uploadSeconds(backup));

  const download = async (name: string, transferMaxBandwidth: string) => {
    const destination = `/var/lib/cassandra/${uniqueId('bwdl')}`;
    await onNode('127.0.0.2', `mkdir -p ${destination}`);
    const handle = await h.client.workflow.start(downloadNode, {
      taskQueue, workflowId: `${prefix}/${name}`, args: [{ backupName: 'b', fqdn: '127.0.0.2', prefix, destination, transferMaxBandwidth }], workflowExecutionTimeout: '10 minutes',
    });
    return { handle, destination };
  };
  const limited = await download('d1', '128KB/s');
  const d1 = await limited.handle.result();
  expect(d1.downloadedBytes).toBe(b.bytes);
  within10(d1.downloadedBytes, await stepSeconds(limited.handle, 'downloadFiles'));

  // At 16 KiB/s the download would take a minute: raised to unlimited once it runs, the rest comes at once.
  const slow = await download('d2', '16KB/s');
  for (let i = 0; i < 240 && !(await uploadProgress(slow.handle, 'downloadFiles'))?.bytesDone; i++) await new Promise((r) => setTimeout(r, 250));
  expect(await slow.handle.executeUpdate(setTransferMaxBandwidth, { args: ['0'] })).toBe(16 * 1024);
  const d2 = await slow.handle.result();
  expect(d2.downloadedBytes).toBe(b.bytes);
  expect(await stepSeconds(slow.handle, 'downloadFiles')).toBeLessThan(b.bytes / (16 * 1024) / 3);
  await onNode('127.0.0.2', `rm -rf ${limited.destination} ${slow.destination}`);
}, 400_000);

test('an update of a running backup-cluster reaches the backups of its nodes', async () => {
  const prefix = uniqueId('bwcluster').replace(/-/g, '');
  const { taskQueue } = await h.worker(sandboxConfig('local', { prefix }));
  const workflowId = `${prefix}/c`;
  // About 1 MiB a node at 16 KiB/s: a minute each, three at once.
  const cluster = await h.client.workflow.start(backupCluster, {
    taskQueue, workflowId, args: [{ backupName: 'c', seedTarget: '127.0.0.2', prefix, mode: 'full', parallelUploads: 3, transferMaxBandwidth: '16KB/s' }], workflowExecutionTimeout: '10 minutes',
  });
  const child = h.client.workflow.getHandle(`${workflowId}/127.0.0.2`);
  for (let i = 0; i < 480 && !(await uploadProgress(child))?.bytesDone; i++) await new Promise((r) => setTimeout(r, 250));
  expect(await cluster.executeUpdate(setTransferMaxBandwidth, { args: ['0'] })).toBe(16 * 1024);
  const r = await cluster.result();
  expect(r.nodes.every((n) => n.result !== undefined)).toBe(true);
  // Every node's upload, not only the cluster's own setting, went unlimited: far less than the minute each needed.
  for (const n of r.nodes) {
    const node = h.client.workflow.getHandle(`${workflowId}/${n.fqdn}`);
    expect({ node: n.fqdn, seconds: await uploadSeconds(node) < n.result!.bytes / (16 * 1024) / 3 }).toEqual({ node: n.fqdn, seconds: true });
  }
}, 400_000);
