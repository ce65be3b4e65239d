/**
 * The node-local mode on real parts: a real `medusa worker --node-local` process — the tool as installed on the
 * host (the release artifact) — runs inside host
 * 127.0.0.3's mount and UTS namespaces (where that node's Cassandra runs) and polls the node's own
 * task queue; the backup workflow runs on a central in-process worker and sends its node steps
 * there. The workflow history proves which worker ran what. With the node worker stopped
 * (SIGTERM, clean exit), a backup for that queue fails within a bounded time, naming node and queue.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { loadSettings } from '../../sandbox/settings';
import { status } from '../../sandbox/index';
import { Layout } from '../../src/plan/layout';
import { parseManifest } from '../../src/plan/manifest';
import { Storage } from '../../src/storage/storage';
import { backupCluster, backupNode } from '../../src/workflows';
import { Harness, listKeys, sandboxConfig, startHarness } from '../support/backup-harness';
import { sandbox, uniqueId } from '../support/env';
import { HOST_PATH, NODE_MEDUSA, NODES, onNode as onNodeAt, snapshotFiles as snapshotFilesAt, snapshotsLeft } from '../support/nodes';

const NODE = '127.0.0.3';
/** The worker's shutdownGraceTime (src/worker.ts): a SIGTERMed worker must be gone within it. */
const GRACE_MS = 30_000;
const NODE_ACTIVITIES = ['writeBackupStart', 'takeSnapshot', 'planBackup', 'uploadFiles', 'finishBackup', 'clearSnapshot'];
/** Steps that touch only storage run on the central worker. */
const CENTRAL_ACTIVITIES = ['checkBackupName'];

const prefix = uniqueId('nl').replace(/-/g, '');
/** [orchestration] node_task_queue of this file: queues of its own on the shared server. */
const QUEUE_TEMPLATE = `medusa-node-{fqdn}-${prefix}`;
const queueOf = (host: string) => QUEUE_TEMPLATE.replace('{fqdn}', host);
const queue = queueOf(NODE);
const layout = new Layout(prefix, NODE);
let h: Harness;
let centralQueue: string;
let storage: Storage;
let tmp: string;

interface NodeWorker {
  proc: ChildProcess;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
/** One `medusa worker --node-local` per sandbox host, each inside that host's namespaces. */
const workers = new Map<string, NodeWorker>();
let worker: ChildProcess | undefined;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

const onNode = (command: string, host = NODE) => onNodeAt(host, command);
const snapshotFiles = (tag: string, host = NODE) => snapshotFilesAt(host, tag);

const logOf = (host: string) => {
  try {
    return readFileSync(workers.get(host)!.logFile, 'utf8');
  } catch {
    return '';
  }
};
const workerLog = () => logOf(NODE);

/** Resolves once the worker says it polls its queue; fails if it exits or takes too long. */
async function waitPolling(host: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void workers.get(host)!.exited.then(() => { gone = true; });
  while (!logOf(host).includes(`polling task queue ${queueOf(host)}`)) {
    if (gone || Date.now() > deadline) throw new Error(`the node-local worker of ${host} is not polling ${queueOf(host)} (${gone ? 'it exited' : 'timeout'}); its log:\n${logOf(host)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Starts `medusa --fqdn <host> worker --node-local` inside the host's mount and UTS namespaces; its queue comes from the ini. */
function startNodeWorker(host: string, ini: string): void {
  const sshd = status(loadSettings()).find((p) => p.part === `SSH host ${host}`);
  if (!sshd?.running) throw new Error(`the sandbox's SSH host ${host} is not running`);
  const logFile = join(tmp, `worker-${host}.log`);
  const fd = openSync(logFile, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn('nsenter', ['--target', String(sshd.pid), '--mount', '--uts', '--',
      NODE_MEDUSA, '--config-file', ini, '--fqdn', host, 'worker', '--node-local'], {
      cwd: tmp,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, TEMPORAL_ADDRESS: sandbox('TEMPORAL_ADDRESS'), PATH: HOST_PATH },
    });
  } finally {
    closeSync(fd);
  }
  const exitedP = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  workers.set(host, { proc, logFile, exited: exitedP });
}

beforeAll(async () => {
  h = await startHarness();
  const central = sandboxConfig('local', { prefix });
  central.orchestration = { ...central.orchestration, nodeAccess: 'worker', nodeTaskQueue: QUEUE_TEMPLATE };
  ({ taskQueue: centralQueue, storage } = await h.worker(central));

  tmp = mkdtempSync(join(tmpdir(), 'medusa-node-local-'));
  // /tmp is shared with the hosts' namespaces, so the node-local workers read this copy of the sandbox ini.
  const ini = join(tmp, 'medusa.ini');
  writeFileSync(ini, `${readFileSync(sandbox('MEDUSA_CONFIG_FILE'), 'utf8').replace(/^\[storage\]$/m, `[storage]\nprefix = ${prefix}`)}
[orchestration]
node_access = worker
node_task_queue = ${QUEUE_TEMPLATE}
`);
  for (const host of NODES) startNodeWorker(host, ini);
  worker = workers.get(NODE)!.proc;
  exited = workers.get(NODE)!.exited;
  await Promise.all(NODES.map((host) => waitPolling(host, 120_000)));
}, 180_000);

afterAll(async () => {
  await Promise.all([...workers.values()].map(async (w) => {
    if (w.proc.exitCode !== null || w.proc.signalCode !== null) return;
    w.proc.kill('SIGTERM');
    const late = setTimeout(() => w.proc.kill('SIGKILL'), GRACE_MS + 5000);
    await w.exited;
    clearTimeout(late);
  }));
  await h?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

test('the node activities of a backup run on the node-local worker inside the node, the workflow on the central worker', async () => {
  const name = `nl${Date.now().toString(36)}`;
  const handle = await h.client.workflow.start(backupNode, {
    taskQueue: centralQueue, workflowId: `${prefix}/${name}`, workflowExecutionTimeout: '5 minutes',
    args: [{ backupName: name, fqdn: NODE, prefix, nodeTaskQueue: queue, keepSnapshot: true }],
  });
  const r = await handle.result();
  expect(r).toMatchObject({ backupName: name, fqdn: NODE, mode: 'differential', snapshotCleared: false });

  // The manifest lists exactly the snapshot files of 127.0.0.3, with their sizes.
  const onDisk = await snapshotFiles(`medusa-${name}`);
  expect(onDisk.size).toBeGreaterThan(100);
  const manifest = parseManifest((await storage.getBytes(layout.meta(name, 'manifest.json')))!.toString());
  const listed = new Map(manifest.flatMap((s) => s.objects.map((o) => [o.path.slice(layout.dataRoot('differential', name).length), o.size] as const)));
  expect(listed).toEqual(onDisk);
  expect(r.files).toBe(onDisk.size);
  for (const o of manifest.flatMap((s) => s.objects)) expect(o.path.startsWith(`${prefix}/${NODE}/data/`)).toBe(true);
  await onNode(`nodetool clearsnapshot -t medusa-${name}`);
  expect(await snapshotFiles(`medusa-${name}`)).toEqual(new Map());

  // Who ran what: every node activity went to the node queue and was started by the node-local worker
  // (pid of the spawned process — nsenter execs node — at the node's own hostname); workflow tasks by the central one.
  const nodeHostname = (await onNode('hostname')).trim();
  expect(nodeHostname).toBe('node2');
  const nodeIdentity = `${worker!.pid}@${nodeHostname}`;
  const centralIdentity = `${process.pid}@${hostname()}`;
  expect(centralIdentity).not.toBe(nodeIdentity);
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Map<string, { type: string; queue: string }>();
  const startedBy = new Map<string, string>();
  const workflowTaskIdentities = new Set<string>();
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '', queue: s.taskQueue?.name ?? '' });
    const st = e.activityTaskStartedEventAttributes;
    if (st) startedBy.set(String(st.scheduledEventId), st.identity ?? '');
    const wt = e.workflowTaskStartedEventAttributes;
    if (wt) workflowTaskIdentities.add(wt.identity ?? '');
  }
  const types = [...scheduled.values()].map((s) => s.type);
  // clearSnapshot is not scheduled with keepSnapshot: it gets its own check below.
  for (const t of NODE_ACTIVITIES.filter((a) => a !== 'clearSnapshot')) expect(types).toContain(t);
  for (const [id, s] of scheduled) {
    const central = CENTRAL_ACTIVITIES.includes(s.type);
    expect({ activity: s.type, queue: s.queue }).toEqual({ activity: s.type, queue: central ? centralQueue : queue });
    expect({ activity: s.type, identity: startedBy.get(id) }).toEqual({ activity: s.type, identity: central ? centralIdentity : nodeIdentity });
  }
  expect([...workflowTaskIdentities]).toEqual([centralIdentity]);

  // Without --keep-snapshot the node worker clears the snapshot too.
  const name2 = `${name}b`;
  const handle2 = await h.client.workflow.start(backupNode, {
    taskQueue: centralQueue, workflowId: `${prefix}/${name2}`, workflowExecutionTimeout: '5 minutes',
    args: [{ backupName: name2, fqdn: NODE, prefix, nodeTaskQueue: queue }],
  });
  const r2 = await handle2.result();
  expect(r2.snapshotCleared).toBe(true);
  // Differential against the first: what is unchanged on the node is kept, not sent again.
  expect(r2.keptFiles).toBeGreaterThan(0);
  expect(r2.uploadedFiles + r2.keptFiles).toBe(r2.files);
  expect(await snapshotFiles(`medusa-${name2}`)).toEqual(new Map());
  const events2 = (await handle2.fetchHistory()).events ?? [];
  const scheduled2 = events2.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => ({
    id: String(e.eventId), type: e.activityTaskScheduledEventAttributes!.activityType?.name, queue: e.activityTaskScheduledEventAttributes!.taskQueue?.name,
  }));
  expect(scheduled2.map((s) => s.type)).toEqual(expect.arrayContaining(NODE_ACTIVITIES));
  const started2 = new Map(events2.filter((e) => e.activityTaskStartedEventAttributes).map((e) => [
    String(e.activityTaskStartedEventAttributes!.scheduledEventId), e.activityTaskStartedEventAttributes!.identity,
  ]));
  for (const s of scheduled2.filter((x) => !CENTRAL_ACTIVITIES.includes(x.type ?? ''))) {
    expect({ activity: s.type, queue: s.queue, identity: started2.get(s.id) }).toEqual({ activity: s.type, queue, identity: nodeIdentity });
  }
}, 300_000);

test('backup-cluster with [orchestration] node_access = worker: each node\'s steps run on that node\'s own worker', async () => {
  const name = `nlc${Date.now().toString(36)}`;
  // Started like the UI does: nothing in the input says how nodes are reached; the central worker's medusa.ini does.
  const handle = await h.client.workflow.start(backupCluster, {
    taskQueue: centralQueue, workflowId: `${prefix}/${name}`, workflowExecutionTimeout: '10 minutes',
    args: [{ backupName: name, seedTarget: NODES[0], prefix, parallelUploads: 2 }],
  });
  const r = await handle.result();
  expect(r.nodes.map((n) => [n.fqdn, n.phase, n.taskQueue])).toEqual(NODES.map((n) => [n, 'finished', queueOf(n)]));
  for (const host of NODES) {
    const l = new Layout(prefix, host);
    const manifest = parseManifest((await storage.getBytes(l.meta(name, 'manifest.json')))!.toString());
    expect(manifest.flatMap((t) => t.objects).length).toBeGreaterThan(100);
    expect(await storage.head(l.index(name, 'manifest'))).toBeDefined();
  }
  expect(await snapshotsLeft(`medusa-${name}`)).toEqual([]);

  // Who ran what, from the histories: the cluster workflow's snapshots and every node step of each
  // node's child went to that node's queue and were started by the worker inside that node.
  const identities = new Map(await Promise.all(NODES.map(async (host) => [host, `${workers.get(host)!.proc.pid}@${(await onNode('hostname', host)).trim()}`] as const)));
  expect(new Set(identities.values()).size).toBe(3);
  const ranOn = async (workflowId: string) => {
    const events = (await h.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const scheduled = new Map<string, { type: string; queue: string }>();
    const rows: { activity: string; queue: string; identity: string }[] = [];
    for (const e of events) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '', queue: s.taskQueue?.name ?? '' });
      const st = e.activityTaskStartedEventAttributes;
      const x = st && scheduled.get(String(st.scheduledEventId));
      if (st && x) rows.push({ activity: x.type, queue: x.queue, identity: st.identity ?? '' });
    }
    return rows;
  };
  const clusterRows = await ranOn(handle.workflowId);
  const snapshots = clusterRows.filter((x) => x.activity === 'takeSnapshot');
  expect(snapshots).toHaveLength(3);
  for (const host of NODES) expect(snapshots).toContainEqual({ activity: 'takeSnapshot', queue: queueOf(host), identity: identities.get(host) });
  for (const host of NODES) {
    const rows = (await ranOn(`${handle.workflowId}/${host}`)).filter((x) => !CENTRAL_ACTIVITIES.includes(x.activity));
    expect(rows.map((x) => x.activity)).toEqual(expect.arrayContaining(NODE_ACTIVITIES.filter((a) => a !== 'takeSnapshot')));
    for (const row of rows) expect(row).toEqual({ activity: row.activity, queue: queueOf(host), identity: identities.get(host) });
  }
}, 400_000);

test('SIGTERM stops the node-local worker cleanly; then a backup for its queue fails within the start timeout, naming node and queue', async () => {
  const t0 = Date.now();
  worker!.kill('SIGTERM');
  const late = setTimeout(() => worker?.kill('SIGKILL'), GRACE_MS + 15_000);
  const exit = await exited;
  clearTimeout(late);
  const stopMs = Date.now() - t0;
  expect({ exit, log: exit.code === 0 ? '' : workerLog() }).toEqual({ exit: { code: 0, signal: null }, log: '' });
  expect(stopMs).toBeLessThan(GRACE_MS);

  const name = `nl${Date.now().toString(36)}gone`;
  const startTimeout = 15;
  const t1 = Date.now();
  const err = await h.client.workflow.execute(backupNode, {
    taskQueue: centralQueue, workflowId: `${prefix}/${name}`, workflowExecutionTimeout: '5 minutes',
    args: [{ backupName: name, fqdn: NODE, prefix, nodeTaskQueue: queue, nodeStartTimeoutSeconds: startTimeout }],
  }).catch((e: unknown) => e);
  const failMs = Date.now() - t1;
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as (Error & { type?: string }) | undefined;
  expect(cause?.type).toBe('NodeWorkerUnavailable');
  expect(cause?.message).toBe(`${NODE}: the node worker on task queue ${queue} did not pick up writeBackupStart within ${startTimeout} s `
    + `(is \`medusa worker --node-local --task-queue ${queue}\` running on ${NODE}?)`);
  expect(failMs).toBeGreaterThanOrEqual(startTimeout * 1000 - 1000);
  expect(failMs).toBeLessThan(startTimeout * 1000 + 30_000);
  // Nothing was written for it.
  expect(await listKeys(storage, `${prefix}/${NODE}/${name}/`)).toEqual([]);
  expect(await listKeys(storage, `${prefix}/index/backup_index/${name}/`)).toEqual([]);
}, 180_000);
