/**
 * `medusa worker` as operators run it, on real parts: the real CLI in a child process, S3 storage.
 * SIGTERM in the middle of a (throttled) upload: the worker stops taking work, hands the running
 * upload back to the server at the end of its grace period and exits 0; a new worker on the same
 * queue finishes the backup without sending finished files again. Its Prometheus endpoint, read
 * with a real text-format parser, shows the SDK's metrics and the backup metrics of the node, equal
 * to what that worker did.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { storageFromConfig } from '../../src/activities/context';
import { DURATION_BUCKETS, METRICS } from '../../src/activities/metrics';
import { Layout } from '../../src/plan/layout';
import { Storage } from '../../src/storage/storage';
import { backupNode, BackupNodeResult } from '../../src/workflows';
import { listKeys, s3Ini, sandboxConfig } from '../support/backup-harness';
import { MEDUSA_BIN } from '../support/cli';
import { sandbox, uniqueId } from '../support/env';
import { histograms, scrape, series, total } from '../support/prometheus';
import { onNode } from '../support/nodes';
import { deleteAll } from '../support/storage-fixtures';

const NODE = '127.0.0.2';
/** The worker's shutdownGraceTime (src/worker.ts). */
const GRACE_MS = 30_000;
const prefix = uniqueId('mw').replace(/-/g, '');
const taskQueue = uniqueId('mw-q');
const layout = new Layout(prefix, NODE);
/** Backup names of this run: snapshot tags (medusa-<name>) are per node, shared with every other test. */
const B1 = `mw${Date.now().toString(36)}a`;
const B2 = `mw${Date.now().toString(36)}b`;
const node = { fqdn: NODE, mode: 'differential' };

interface WorkerProcess {
  proc: ChildProcess;
  log: string;
  metrics: string;
  identity: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let tmp: string;
let client: Client;
let storage: Storage;
const workers: WorkerProcess[] = [];
/** Set by the first test, read by the second: the second worker and what it finished. */
let second: WorkerProcess | undefined;
let first: BackupNodeResult | undefined;
let testStart = 0;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** `node bin/medusa.js --config-file <ini> worker --task-queue <q>`, the metrics address by flag or by environment; waits until it polls. */
async function startWorker(name: string, iniFile: string, metricsBy: 'flag' | 'env'): Promise<WorkerProcess> {
  const metrics = `127.0.0.1:${await freePort()}`;
  const log = join(tmp, `${name}.log`);
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: sandbox('TEMPORAL_ADDRESS'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  delete env.MEDUSA_METRICS_ADDRESS;
  if (metricsBy === 'env') env.MEDUSA_METRICS_ADDRESS = metrics;
  const fd = openSync(log, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, [MEDUSA_BIN, '--config-file', iniFile, 'worker', '--task-queue', taskQueue,
      ...(metricsBy === 'flag' ? ['--metrics-address', metrics] : [])], { env, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const w = { proc, log, metrics, identity: `${proc.pid}@${hostname()}`, exited };
  workers.push(w);
  let gone = false;
  void exited.then(() => { gone = true; });
  const deadline = Date.now() + 120_000;
  while (!readFileSync(log, 'utf8').includes(`polling task queue ${taskQueue}`)) {
    if (gone || Date.now() > deadline) throw new Error(`${name} is not polling ${taskQueue} (${gone ? 'it exited' : 'timeout'}); its log:\n${readFileSync(log, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return w;
}

const sent = async () => (await listKeys(storage, layout.dataRoot('differential', B1))).length;
const epochOf = async (key: string) => Math.floor((await storage.head(key))!.lastModified.getTime() / 1000);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'medusa-worker-'));
  client = new Client({ connection: await Connection.connect({ address: sandbox('TEMPORAL_ADDRESS') }) });
  storage = storageFromConfig(sandboxConfig('s3', { prefix }).storage);
}, 60_000);

afterAll(async () => {
  for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  // After a failure: no backup of this file left running, no snapshot of it left on the node.
  for (const name of [B1, B2]) {
    await client?.workflow.getHandle(`${prefix}/${name}`).terminate('test over').catch(() => undefined);
    const left = await onNode(NODE, `find /var/lib/cassandra/data -maxdepth 4 -type d -path "*/snapshots/medusa-${name}"`);
    if (left.trim()) await onNode(NODE, `nodetool clearsnapshot -t medusa-${name}`);
  }
  if (storage) await deleteAll(storage, `${prefix}/`);
  await client?.connection.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

test('SIGTERM mid-upload: the worker hands the upload back within its grace period and exits 0; a new worker finishes without re-sending', async () => {
  testStart = Date.now();
  // 10 KB/s, one file at a time: the upload of 127.0.0.2 (about 1 MB) outlasts the grace period.
  const slow = await startWorker('worker1', s3Ini(prefix, 'transfer_max_bandwidth = 10KB/s\nconcurrent_transfers = 1'), 'env');
  const handle = await client.workflow.start(backupNode, {
    taskQueue, workflowId: `${prefix}/${B1}`, args: [{ backupName: B1, fqdn: NODE, prefix }], workflowExecutionTimeout: '10 minutes',
  });
  for (let i = 0; i < 240 && (await sent()) < 10; i++) await new Promise((r) => setTimeout(r, 500));
  expect(await sent()).toBeGreaterThanOrEqual(10);

  // Mid-backup, the first worker's endpoint (address from MEDUSA_METRICS_ADDRESS) already counts whole files sent.
  const during = await scrape(slow.metrics);
  expect(total(during, METRICS.uploadedFiles, node)).toBeGreaterThan(0);
  expect(total(during, METRICS.errors, { fqdn: NODE })).toBe(0);

  const t0 = Date.now();
  slow.proc.kill('SIGTERM');
  const late = setTimeout(() => slow.proc.kill('SIGKILL'), GRACE_MS + 30_000);
  const exit = await slow.exited;
  clearTimeout(late);
  const stopMs = Date.now() - t0;
  expect({ exit, log: exit.code === 0 ? '' : readFileSync(slow.log, 'utf8') }).toEqual({ exit: { code: 0, signal: null }, log: '' });
  expect(stopMs).toBeLessThan(GRACE_MS + 10_000);
  // Objects are written all-or-nothing: what is in storage now was sent in full by the first worker.
  const sentByFirst = await sent();

  second = await startWorker('worker2', s3Ini(prefix, 'concurrent_transfers = 4'), 'flag');
  const r = await handle.result();
  first = r;
  expect(r.keptFiles).toBe(0); // a fresh prefix: nothing to keep
  // Every file the first worker had sent was found complete, and not sent again.
  expect(r.alreadyPresentFiles).toBeGreaterThanOrEqual(sentByFirst);
  expect(r.uploadedFiles + r.alreadyPresentFiles).toBe(r.files);
  expect(r.uploadedFiles).toBeGreaterThan(0);
  expect(r.snapshotCleared).toBe(true);

  // The upload ran twice: attempt 1 handed back by the first worker (a failure it reported, not a
  // heartbeat timeout), attempt 2 — the last, and the only one on the second worker — completed there.
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'uploadFiles')!;
  const started = events.filter((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(scheduled.eventId));
  expect(started).toHaveLength(1);
  const attempt = started[0].activityTaskStartedEventAttributes!;
  expect({ attempt: attempt.attempt, identity: attempt.identity }).toEqual({ attempt: 2, identity: second.identity });
  expect(attempt.lastFailure?.timeoutFailureInfo).toBeFalsy();
  expect(attempt.lastFailure?.message).toMatch(/^127\.0\.0\.2: upload: aborted: /);
  const workflowTasksBy = new Set(events.map((e) => e.workflowTaskStartedEventAttributes?.identity).filter(Boolean));
  expect(workflowTasksBy).toEqual(new Set([slow.identity, second.identity]));
}, 400_000);

test('the worker\'s /metrics: SDK metrics, and the node\'s backup metrics equal to what this worker did', async () => {
  if (!second || !first) throw new Error('needs the backup of the previous test');
  const r = first;
  const m = await scrape(second.metrics);

  // The SDK's own metrics, on the same endpoint: this worker started on this queue and ran the upload.
  expect(total(m, 'temporal_worker_start', { task_queue: taskQueue })).toBe(1);
  expect(histograms(m, 'temporal_activity_execution_latency', { task_queue: taskQueue, activity_type: 'uploadFiles' }).map((h) => h.count)).toEqual([1]);

  // Backup metrics of 127.0.0.2, from the one upload attempt this worker ran.
  expect(total(m, METRICS.uploadedBytes, node)).toBe(r.uploadedBytes);
  expect(r.uploadedBytes).toBeGreaterThan(0);
  expect(total(m, METRICS.uploadedFiles, node)).toBe(r.uploadedFiles);
  expect(total(m, METRICS.skippedFiles, { ...node, reason: 'already_present' })).toBe(r.alreadyPresentFiles);
  expect(total(m, METRICS.skippedBytes, { ...node, reason: 'already_present' })).toBe(r.bytes - r.uploadedBytes);
  expect(total(m, METRICS.skippedBytes, { ...node, reason: 'deduplicated' })).toBe(0);
  expect(total(m, METRICS.errors, { fqdn: NODE })).toBe(0);
  // The activity meter's tags come along.
  expect(series(m, METRICS.uploadedBytes, { ...node, taskQueue, activityType: 'uploadFiles', namespace: 'default' })).toHaveLength(1);

  // Last success: the time of the index "finished" entry (the manifest's), within this test.
  const finished1 = await epochOf(layout.meta(B1, 'manifest.json'));
  expect(total(m, METRICS.lastSuccess, node)).toBe(finished1);
  expect(finished1).toBeGreaterThanOrEqual(Math.floor(testStart / 1000));
  expect(finished1).toBeLessThanOrEqual(Date.now() / 1000);
  // Duration: the whole backup, "started" to "finished" entry — it spans the first worker's grace period.
  const [duration, ...more] = histograms(m, METRICS.duration, node);
  expect(more).toEqual([]);
  expect(duration.count).toBe(1);
  expect(duration.sum).toBe(finished1 - await epochOf(layout.meta(B1, 'schema.cql')));
  expect(duration.sum).toBeGreaterThanOrEqual(GRACE_MS / 1000 - 1);
  // Buckets from the worker's own boundaries (the SDK's default ones are for milliseconds).
  expect(Object.keys(duration.buckets).sort((a, b) => Number(a) - Number(b))).toEqual([...DURATION_BUCKETS.map(String), '+Inf']);

  // A second, differential backup on this worker keeps the unchanged files: counted as deduplicated.
  const r2 = await client.workflow.execute(backupNode, {
    taskQueue, workflowId: `${prefix}/${B2}`, args: [{ backupName: B2, fqdn: NODE, prefix }], workflowExecutionTimeout: '5 minutes',
  });
  expect(r2.keptFiles).toBeGreaterThan(0);
  // A backup name that exists fails at its first step: one error, of that type, at that step.
  const err = await client.workflow.execute(backupNode, {
    taskQueue, workflowId: `${prefix}/${B1}-again`, args: [{ backupName: B1, fqdn: NODE, prefix }], workflowExecutionTimeout: '5 minutes',
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);

  const m2 = await scrape(second.metrics);
  expect(total(m2, METRICS.uploadedBytes, node)).toBe(r.uploadedBytes + r2.uploadedBytes);
  expect(total(m2, METRICS.uploadedFiles, node)).toBe(r.uploadedFiles + r2.uploadedFiles);
  expect(total(m2, METRICS.skippedFiles, { ...node, reason: 'deduplicated' })).toBe(r2.keptFiles);
  expect(total(m2, METRICS.skippedBytes, { ...node, reason: 'deduplicated' })).toBe(r2.keptBytes);
  expect(total(m2, METRICS.lastSuccess, node)).toBe(await epochOf(layout.meta(B2, 'manifest.json')));
  expect(histograms(m2, METRICS.duration, node).map((h) => h.count)).toEqual([2]);
  expect(series(m2, METRICS.errors, { fqdn: NODE }).map((s) => [s.labels.step, s.labels.type, s.value])).toEqual([['check storage', 'BackupExists', 1]]);

  // Idle, the worker stops at once on SIGTERM, exit 0.
  const t0 = Date.now();
  second.proc.kill('SIGTERM');
  expect(await second.exited).toEqual({ code: 0, signal: null });
  expect(Date.now() - t0).toBeLessThan(10_000);
}, 300_000);
