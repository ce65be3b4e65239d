/**
 * Over SSH, the file work runs on the node (`[orchestration] node_access = ssh`, the default): the central
 * worker logs into each node and starts the installed tool there (`medusa node-agent`), which plans, hashes,
 * uploads and downloads between the node and storage; the central worker carries control and progress only.
 * Measured on a cluster backup of more than 300 MiB: the central worker process reads under 5% of the data,
 * while in the agentless mode (chosen in medusa.ini) it reads all of it. Also: a node whose tool is missing or
 * of another version fails in one line before anything is written; the storage credentials reach the node only
 * over the channel (not in its command line, environment, files or the history); cancelling stops the node's
 * process; a dropped SSH connection is resumed without sending finished files again; the steps of a node's
 * backups share one node-side process, which goes once idle.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as CqlClient } from 'cassandra-driver';
import { WorkflowFailedError } from '@temporalio/client';
import { dropBlobs, loadBlobs } from '../../sandbox/data';
import { cqlClusterClient } from '../../sandbox/parts/cassandra';
import { nodeToolInstall } from '../../sandbox/parts/node-tool';
import { loadSettings } from '../../sandbox/settings';
import { MedusaConfig } from '../../src/config/medusa-config';
import { Layout } from '../../src/plan/layout';
import { Storage } from '../../src/storage/storage';
import { VERSION } from '../../src/version';
import type { BackupClusterResult } from '../../src/workflows';
import { backupCluster, backupNode } from '../../src/workflows';
import { Harness, listKeys, sandboxConfig, startHarness } from '../support/backup-harness';
import { MEDUSA_BIN } from '../support/cli';
import { sandbox, uniqueId } from '../support/env';
import { AGENT_IDLE_MS } from '../../src/agent/remote';
import { NODE_MEDUSA, onNode } from '../support/nodes';

jest.setTimeout(600_000);

const s = loadSettings();
const KEYSPACE = uniqueId('bulk').replace(/-/g, '_');
/** Rows of 1 MiB, RF 1: about a third on each node. */
const BULK_MIB = 330;
let cql: CqlClient;
let h: Harness;

beforeAll(async () => {
  cql = cqlClusterClient(s);
  await loadBlobs(cql, s, KEYSPACE, BULK_MIB);
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
  await dropBlobs(cql, s, KEYSPACE).catch(() => undefined);
  await cql?.shutdown();
});

/** The bytes a process has read (read(2) and friends: files, sockets and pipes alike), from /proc/<pid>/io. */
function bytesRead(pid: number): number {
  const m = /^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  if (!m) throw new Error(`no rchar in /proc/${pid}/io`);
  return Number(m[1]);
}

/** A copy of the sandbox's medusa.ini with these [storage] prefix and [orchestration] lines. */
function iniWith(prefix: string, orchestration: string): string {
  const text = readFileSync(sandbox('MEDUSA_CONFIG_FILE'), 'utf8')
    .replace(/^\[storage\]$/m, `[storage]\nprefix = ${prefix}`)
    .replace(/^\[orchestration\][\s\S]*$/m, `[orchestration]\n${orchestration}\n`);
  const file = join(mkdtempSync(join(tmpdir(), 'node-side-')), 'medusa.ini');
  writeFileSync(file, text);
  return file;
}

/** `medusa worker` in a process of its own (the central worker), polling `queue`; resolves once it polls. */
async function centralWorker(ini: string, queue: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [MEDUSA_BIN, '--config-file', ini, 'worker', '--task-queue', queue],
    { env: { ...process.env, TEMPORAL_ADDRESS: sandbox('TEMPORAL_ADDRESS') }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      if (log.includes(`polling task queue ${queue}`)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`the worker exited (${code}) before polling:\n${log}`)));
  });
  return proc;
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await gone;
}

/** A full cluster backup through a central worker process; returns its result and the bytes that process read meanwhile. */
async function clusterBackupRead(ini: string): Promise<{ result: BackupClusterResult; read: number; workflowId: string }> {
  const queue = uniqueId('central');
  const worker = await centralWorker(ini, queue);
  try {
    const before = bytesRead(worker.pid!);
    const workflowId = uniqueId('nodeside-cluster');
    const result = await h.client.workflow.execute(backupCluster, {
      taskQueue: queue, workflowId, args: [{ backupName: uniqueId('bulk'), seedTarget: '127.0.0.2', mode: 'full', parallelUploads: 3 }],
    });
    return { result, read: bytesRead(worker.pid!) - before, workflowId };
  } finally {
    await stop(worker);
  }
}

const uploaded = (r: BackupClusterResult) => r.nodes.reduce((a, n) => a + (n.result?.uploadedBytes ?? 0), 0);

test('a cluster backup of over 300 MiB: the central worker reads under 5% of the data; agentless, all of it', async () => {
  const agents = await clusterBackupRead(iniWith(uniqueId('agents').replace(/-/g, ''), 'node_access = ssh'));
  expect(agents.result.nodes.map((n) => n.phase)).toEqual(['finished', 'finished', 'finished']);
  const data = uploaded(agents.result);
  expect(data).toBeGreaterThan(300 * 1024 * 1024);
  expect(agents.read).toBeLessThan(0.05 * data);

  // Every node step of the node backups had a heartbeat timeout of a minute at most, planning included.
  for (const n of agents.result.nodes) {
    const history = await h.client.workflow.getHandle(`${agents.workflowId}/${n.fqdn}`).fetchHistory();
    const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : []));
    const steps = scheduled.filter((a) => !['checkBackupName', 'staggerReady'].includes(a.activityType?.name ?? '')); // storage only, central
    expect(steps.map((a) => a.activityType?.name)).toEqual(expect.arrayContaining(['writeBackupStart', 'planBackup', 'uploadFiles', 'finishBackup', 'clearSnapshot']));
    for (const a of steps) expect({ step: a.activityType?.name, heartbeat: Number(a.heartbeatTimeout?.seconds ?? 0) }).toEqual({ step: a.activityType?.name, heartbeat: 60 });
  }

  const agentless = await clusterBackupRead(iniWith(uniqueId('agentless').replace(/-/g, ''), 'node_access = agentless'));
  expect(agentless.result.nodes.map((n) => n.phase)).toEqual(['finished', 'finished', 'finished']);
  expect(agentless.read).toBeGreaterThan(0.9 * uploaded(agentless.result));
});

describe('the tool on the node', () => {
  const node = '127.0.0.3';

  async function backupWith(nodeCommand: string): Promise<{ error: string; keys: string[] }> {
    const prefix = uniqueId('tool').replace(/-/g, '');
    const config: MedusaConfig = sandboxConfig('local', { prefix });
    config.orchestration = { ...config.orchestration, nodeCommand };
    const { taskQueue, storage } = await h.worker(config);
    const name = uniqueId('t');
    const err = await h.client.workflow.execute(backupNode, { taskQueue, workflowId: uniqueId('tool-wf'), args: [{ backupName: name, fqdn: node }] })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    return { error: (err as WorkflowFailedError).cause?.message ?? '', keys: await listKeys(storage, prefix) };
  }

  test('missing on the node: one line naming the node and what to install; nothing written to storage', async () => {
    const { error, keys } = await backupWith('/opt/no-such-dir/medusa');
    expect(error).toBe(`${node}: cannot run '/opt/no-such-dir/medusa node-agent' on the node (exit 127: sh: 1: /opt/no-such-dir/medusa: not found): `
      + `install medusa-temporal ${VERSION} on the node (npm install -g ./medusa-temporal-${VERSION}.tgz; see the README), or point [orchestration] node_command at it, `
      + 'or set [orchestration] node_access = agentless to pull the files over SFTP instead');
    expect(keys).toEqual([]);
  });

  test('on a node without Node.js: one line naming the node and what to install; nothing written to storage', async () => {
    // The installed tool, started where `node` is not on the PATH: what a node without Node.js answers.
    const { error, keys } = await backupWith(`env PATH=/nonexistent ${NODE_MEDUSA}`);
    expect(error).toMatch(new RegExp(`^${node.replace(/\./g, '\\.')}: cannot run .* on the node \\(exit 127: .*node.*No such file or directory\\): install medusa-temporal`));
    expect(keys).toEqual([]);
  });

  test('of another version: one line naming the node and both versions; nothing written to storage', async () => {
    // A real installation of the same tool that says it is 0.0.9: its code, with its own package.json.
    const installed = join(nodeToolInstall(s), 'lib', 'node_modules', 'medusa-temporal');
    const other = join(mkdtempSync(join(tmpdir(), 'other-tool-')), 'medusa-temporal');
    for (const part of ['bin', 'dist']) cpSync(join(installed, part), join(other, part), { recursive: true });
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { version: string };
    writeFileSync(join(other, 'package.json'), JSON.stringify({ ...pkg, version: '0.0.9' }));
    symlinkSync(join(installed, 'node_modules'), join(other, 'node_modules'));
    const { error, keys } = await backupWith(join(other, 'bin', 'medusa.js'));
    expect(error).toMatch(new RegExp(`^${node.replace(/\./g, '\\.')}: the node runs medusa-temporal 0\\.0\\.9 \\(.*\\), this worker ${VERSION.replace(/\./g, '\\.')}: install medusa-temporal ${VERSION.replace(/\./g, '\\.')} on the node`));
    expect(keys).toEqual([]);
  });
});

describe('a node-side upload in flight', () => {
  const node = '127.0.0.3';
  let storage: Storage;
  let taskQueue: string;
  let prefix: string;
  let secret: string;

  beforeAll(async () => {
    prefix = uniqueId('inflight').replace(/-/g, '');
    // S3 (with a key file, read by the central worker) and a bandwidth cap, so that the upload of the node's
    // ~110 MiB lasts long enough to look at.
    const config = sandboxConfig('s3', { prefix });
    Object.assign(config.storage, { transferMaxBandwidth: 12 * 1024 * 1024, concurrentTransfers: 2 });
    secret = sandbox('SANDBOX_S3_SECRET_ACCESS_KEY');
    ({ taskQueue, storage } = await h.worker(config));
  });

  /** The node-side processes (`medusa node-agent`) now running on the machine, with their parents. */
  async function agents(): Promise<{ pid: number; ppid: number }[]> {
    const out = await onNode(node, "ps -eo pid=,ppid=,args= | grep '[n]ode-agent' || true");
    return out.trim().split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)).map(([pid, ppid]) => ({ pid: Number(pid), ppid: Number(ppid) }));
  }

  /** The agents whose parent is not an agent: one per SSH channel (the shell sshd started, the tool below it). */
  const roots = (list: { pid: number; ppid: number }[]) => list.filter((a) => !list.some((b) => b.pid === a.ppid));

  async function whenUploading(name: string, objectsAtLeast: number): Promise<void> {
    const layout = new Layout(prefix, node);
    for (const deadline = Date.now() + 180_000; Date.now() < deadline;) {
      const keys = await listKeys(storage, layout.dataRoot('full', name));
      if (keys.length >= objectsAtLeast) return;
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`no ${objectsAtLeast} objects uploaded within 3 minutes`);
  }

  test('credentials only over the channel; cancelling the backup stops the node-side process', async () => {
    const name = uniqueId('cancel');
    const handle = await h.client.workflow.start(backupNode, { taskQueue, workflowId: uniqueId('inflight-wf'), args: [{ backupName: name, fqdn: node, mode: 'full' }] });
    await whenUploading(name, 5);
    const running = await agents();
    expect(running.length).toBeGreaterThan(0);
    for (const a of running) {
      // Neither its command line nor its environment carries the key; nor does any file the run left on the node.
      expect(await onNode(node, `tr '\\0' ' ' < /proc/${a.pid}/cmdline`)).not.toContain(secret);
      expect(await onNode(node, `tr '\\0' '\\n' < /proc/${a.pid}/environ`)).not.toContain(secret);
    }
    expect(await onNode(node, `grep -rl -F -- '${secret}' /tmp/medusa-temporal || true`)).toBe('');
    await handle.cancel();
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    for (const deadline = Date.now() + 20_000; (await agents()).length > 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 500));
    expect(await agents()).toEqual([]);
    expect(JSON.stringify(await handle.fetchHistory())).not.toContain(secret);
  });

  test('the SSH connection dropped mid-upload: the retry resumes, no finished file is sent again', async () => {
    const name = uniqueId('drop');
    const handle = await h.client.workflow.start(backupNode, { taskQueue, workflowId: uniqueId('drop-wf'), args: [{ backupName: name, fqdn: node, mode: 'full' }] });
    await whenUploading(name, 20);
    // The agent's tree is the shell SSH started and the tool under it; pids wrap here (pid_max 32768), so the shell
    // is the one whose parent is not an agent, not the lower pid.
    const tree = await agents();
    const agent = roots(tree)[0];
    // Kill the node's sshd process serving this connection: the connection drops, as when a network link goes.
    const sent = new Map<string, number>();
    for (const key of await listKeys(storage, new Layout(prefix, node).dataRoot('full', name))) sent.set(key, (await storage.head(key))!.lastModified.getTime());
    await onNode(node, `kill -9 ${agent.ppid}`).catch(() => undefined);
    const result = await handle.result();
    expect(result.uploadedFiles + result.alreadyPresentFiles).toBe(result.files);
    expect(result.alreadyPresentFiles).toBeGreaterThanOrEqual(sent.size);
    for (const [key, before] of sent) expect({ key, lastModified: (await storage.head(key))!.lastModified.getTime() }).toEqual({ key, lastModified: before });
    // The node-side processes of the dropped connection saw their channel close and are gone.
    const left = (await agents()).map((a) => a.pid);
    expect(tree.filter((a) => left.includes(a.pid))).toEqual([]);
  });

  test('the steps of the node\'s backups share one node-side process, let go once idle', async () => {
    for (const deadline = Date.now() + AGENT_IDLE_MS + 20_000; (await agents()).length > 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 500));
    expect(await agents()).toEqual([]);
    // Differential backups of the node, unchanged since the tests above: quick, with every node-side step.
    const backup = (name: string) => h.client.workflow.execute(backupNode, { taskQueue, workflowId: uniqueId('shared-wf'), args: [{ backupName: name, fqdn: node, mode: 'differential' }] });
    await backup(uniqueId('shared1'));
    const first = await agents();
    // Its check of the tool, planning, upload and manifest ran in this one agent (the shell SSH started, and the tool
    // under it), now waiting for the node's next step.
    expect(roots(first)).toHaveLength(1);
    await backup(uniqueId('shared2'));
    expect(await agents()).toEqual(first);
    const idleSince = Date.now();
    for (const deadline = idleSince + AGENT_IDLE_MS + 10_000; (await agents()).length > 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 250));
    expect(await agents()).toEqual([]);
    expect(Date.now() - idleSince).toBeGreaterThan(AGENT_IDLE_MS - 3000);
  });
});
