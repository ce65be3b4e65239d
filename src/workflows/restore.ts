/**
 * `restore-node` and `restore-cluster` as durable workflows. Deterministic: every step with I/O is
 * an activity (src/activities/restore/node-restore.ts), every download a `downloadNode` child.
 *
 * Two ways to put a backup back:
 * - **offline** (whole nodes; the default without --keyspace/--table): every node downloads its
 *   backup into its restore directory first, *while Cassandra still runs* — so a download that fails
 *   changes nothing — then the nodes are stopped, their tables swapped for the downloaded ones (the
 *   replaced files kept aside), their commitlogs set aside, and they are started again one at a time
 *   in token order. Downtime is the swap and the restart, not the download.
 * - **online** (the default for --keyspace/--table): each node downloads its backup of those tables
 *   and `nodetool import`s them into the running node: no restart, system keyspaces never touched.
 *
 * A restore holds the cluster lock (no backup of the same cluster and catalogue runs meanwhile), and
 * a failure names the node, the step, and the state the node was left in.
 */
import {
  ActivityFailure, ApplicationFailure, CancellationScope, ChildWorkflowFailure, defineQuery, executeChild, proxyActivities, RetryPolicy,
  setHandler, TimeoutFailure, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ClusterRestorePlan, HostMapping } from '../activities/restore/cluster-plan';
import type { RestoreLayout } from '../activities/restore/types';
import { PERMANENT_ERROR_TYPES } from '../shared/error-types';
import { acquireClusterLock, releaseLock } from './cluster-lock';
import { downloadNode } from './download-node';

export type RestoreMode = 'online' | 'offline';

/** Options shared by restore-node and restore-cluster. */
export interface RestoreOptions {
  backupName: string;
  /** Medusa's --keyspace (repeatable). */
  keyspaces?: string[];
  /** Medusa's --table ks.t (repeatable). */
  tables?: string[];
  /** online: `nodetool import` into the running nodes; offline: stop, swap, start. Default: online with keyspace/table filters, else offline. */
  mode?: RestoreMode;
  /** Medusa's --temp-dir: where each node's restore directory goes; default next to its data directory. */
  tempDir?: string;
  /** Run the [checks] query of the worker's medusa.ini after the restore (Medusa's --verify). */
  verify?: boolean;
  bucketName?: string;
  prefix?: string;
  /** Seconds to wait for a node to stop (default 600) and to answer CQL again after start_cmd (default 900). */
  stopTimeoutSeconds?: number;
  startTimeoutSeconds?: number;
  /** With node workers: fail when no worker picks up a node step within this many seconds (default 300). */
  nodeStartTimeoutSeconds?: number;
}

export interface RestoreNodeInput extends RestoreOptions {
  /** The node restored, in place, from its own backup. */
  fqdn: string;
  /** Task queue of a worker running on the node; default: the central worker over SSH. */
  nodeTaskQueue?: string;
}

export interface RestoreClusterInput extends RestoreOptions {
  /** A node of the cluster to restore (reads its token ring); default: the worker's [storage] fqdn. */
  seedTarget?: string;
  /** Medusa's --host-list, parsed. */
  hostList?: HostMapping[];
  /** Medusa's -pr/--parallel-restores: nodes downloading (or importing) at once; default 500. */
  parallelRestores?: number;
  /** Restore the finished nodes of an incomplete backup instead of refusing it. */
  force?: boolean;
  /** Node workers (true) or SSH (false); default: `[orchestration] node_access` of the worker. */
  nodeWorkers?: boolean;
  /** Onto other hosts: keep the target cluster's system_auth (users, roles) instead of the backup's. */
  keepAuth?: boolean;
}

export type NodeRestorePhase =
  | 'waiting' | 'preparing' | 'downloading' | 'downloaded' | 'stopping' | 'stopped' | 'swapping' | 'swapped' | 'pinning' | 'starting'
  | 'importing' | 'verifying' | 'cleaning' | 'done' | 'failed';

export interface NodeRestoreStatus {
  /** The node restored onto. */
  fqdn: string;
  /** The backup node it receives (absent: itself). */
  source?: string;
  /** Onto another host: the tokens it is started with. */
  pinTokens?: string[];
  taskQueue?: string;
  phase: NodeRestorePhase;
  /** Where the restore keeps its files on the node (known after preparing). */
  stagingDir?: string;
  files?: number;
  bytes?: number;
  downloadedBytes?: number;
  tables?: number;
  /** Why this node failed, and what state it was left in. */
  error?: string;
}

export interface RestoreProgress {
  backupName: string;
  mode: RestoreMode;
  stage: 'planning' | 'downloading' | 'stopping' | 'swapping' | 'starting' | 'importing' | 'verifying' | 'cleaning' | 'done' | 'failed';
  nodes: NodeRestoreStatus[];
}

export interface RestoreResult {
  backupName: string;
  mode: RestoreMode;
  nodes: { fqdn: string; source?: string; tables: number; files: number; bytes: number; downloadedBytes: number }[];
  /** Nodes of an incomplete backup that were not restored (restore-cluster with force). */
  skipped: string[];
  verified?: { query: string; rows: number };
}

export const restoreProgress = defineQuery<RestoreProgress>('restoreProgress');

const RETRY: RetryPolicy = { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5, nonRetryableErrorTypes: PERMANENT_ERROR_TYPES };

/** An activity's or child's own words and type, instead of "Activity task failed". */
function cause(err: unknown): { message: string; type?: string } {
  if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START') {
    return { message: `no node worker picked up ${err.activityType} (is \`medusa worker --node-local\` running on the node?)`, type: 'NodeWorkerUnavailable' };
  }
  if ((err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) && err.cause) return cause(err.cause);
  if (err instanceof ApplicationFailure) return { message: err.message, type: err.type ?? undefined };
  return { message: err instanceof Error ? err.message : String(err) };
}

function positive(n: number | undefined, fallback: number, what: string): number {
  const v = n ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw ApplicationFailure.nonRetryable(`${what} must be a whole number ≥ 1, not ${String(n)}`, 'BadInput');
  return v;
}

/** Runs `fn` over `items` with at most `limit` at once; every item runs, the first error is thrown at the end. */
async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure;
}

function modeOf(o: RestoreOptions): RestoreMode {
  if (o.mode !== undefined && o.mode !== 'online' && o.mode !== 'offline') {
    throw ApplicationFailure.nonRetryable(`unknown mode ${String(o.mode)} (online or offline)`, 'BadInput');
  }
  const filtered = (o.keyspaces?.length ?? 0) > 0 || (o.tables?.length ?? 0) > 0;
  return o.mode ?? (filtered ? 'online' : 'offline');
}

/** The steps of one node, on its own task queue (or the central worker's). */
class NodeSteps {
  private readonly steps;
  private readonly waits;
  layout?: RestoreLayout;

  constructor(readonly status: NodeRestoreStatus, private readonly o: RestoreOptions & { keepAuth?: boolean }, private readonly mode: RestoreMode) {
    const taskQueue = status.taskQueue ?? workflowInfo().taskQueue;
    const onNode = status.taskQueue ? { scheduleToStartTimeout: positive(o.nodeStartTimeoutSeconds, 300, 'nodeStartTimeoutSeconds') * 1000 } : {};
    this.steps = proxyActivities<Activities>({ taskQueue, ...onNode, startToCloseTimeout: '30 minutes', heartbeatTimeout: '1 minute', retry: RETRY });
    this.waits = proxyActivities<Activities>({ taskQueue, ...onNode, startToCloseTimeout: '2 hours', heartbeatTimeout: '1 minute', retry: RETRY });
  }

  private async step<T>(phase: NodeRestorePhase, what: string, fn: () => Promise<T>, leftIn: () => string): Promise<T> {
    this.status.phase = phase;
    try {
      return await fn();
    } catch (err) {
      const c = cause(err);
      const message = c.message.startsWith(`${this.status.fqdn}:`) ? c.message : `${this.status.fqdn}: ${c.message}`;
      this.status.phase = 'failed';
      this.status.error = `${what} failed: ${message} — ${leftIn()}`;
      throw ApplicationFailure.create({ message: `${this.status.fqdn}: ${what} failed: ${message.slice(this.status.fqdn.length + 2)}; ${leftIn()}`, type: c.type ?? 'RestoreFailed', nonRetryable: true });
    }
  }

  private unchanged = () => 'nothing on the node was changed';
  private aside = () => `the replaced files are kept in ${this.layout?.stagingDir ?? 'the restore directory'}/previous`;

  async prepare(runKey: string): Promise<void> {
    this.layout = await this.step('preparing', 'preparing the restore', () => this.steps.prepareRestore({ fqdn: this.status.fqdn, tempDir: this.o.tempDir, runKey }), this.unchanged);
    this.status.stagingDir = this.layout.stagingDir;
  }

  async download(): Promise<void> {
    const layout = this.layout!;
    const filtered = (this.o.keyspaces?.length ?? 0) > 0 || (this.o.tables?.length ?? 0) > 0;
    const r = await this.step('downloading', 'downloading the backup', () => executeChild(downloadNode, {
      workflowId: `${workflowInfo().workflowId}/download/${this.status.fqdn}`,
      args: [{
        backupName: this.o.backupName, fqdn: this.status.source ?? this.status.fqdn, targetFqdn: this.status.fqdn, destination: layout.downloadDir, keyspaces: this.o.keyspaces, tables: this.o.tables,
        // A table restore never drags the system keyspaces along (Medusa's #823); nor does an import.
        ignoreSystemKeyspaces: filtered || this.mode === 'online',
        tempDir: layout.stagingDir, bucketName: this.o.bucketName, prefix: this.o.prefix, nodeTaskQueue: this.status.taskQueue,
        nodeStartTimeoutSeconds: this.o.nodeStartTimeoutSeconds,
      }],
    }), this.unchanged);
    Object.assign(this.status, { phase: 'downloaded', files: r.files, bytes: r.bytes, downloadedBytes: r.downloadedBytes, tables: r.tables });
  }

  async stop(): Promise<void> {
    await this.step('stopping', 'stopping Cassandra', () => this.waits.stopCassandra({ layout: this.layout!, timeoutSeconds: this.o.stopTimeoutSeconds ?? 600 }),
      () => 'its data was not changed; the node may be down');
    this.status.phase = 'stopped';
  }

  async swap(): Promise<void> {
    const other = this.status.pinTokens !== undefined;
    await this.step('swapping', 'putting the restored files in place', () => this.steps.swapTables({
      layout: this.layout!, clearCommitlog: true, ...(other ? { otherHost: { keepAuth: this.o.keepAuth ?? false } } : {}),
    }), () => `the node is down with its tables partly restored; ${this.aside()}; rerun the restore to finish`);
    this.status.phase = 'swapped';
    if (other) {
      await this.step('pinning', 'pinning the backup\'s tokens in cassandra.yaml', () => this.steps.pinTokens({ layout: this.layout!, tokens: this.status.pinTokens! }),
        () => `the node is down with the backup's files in place; ${this.aside()}`);
    }
  }

  async start(): Promise<void> {
    await this.step('starting', 'starting Cassandra', () => this.waits.startCassandra({ layout: this.layout!, timeoutSeconds: this.o.startTimeoutSeconds ?? 900 }),
      () => `its data is restored but it is not serving; ${this.aside()}`);
  }

  async waitForRing(): Promise<void> {
    await this.step('starting', 'waiting for the ring', () => this.waits.waitForRing({ layout: this.layout!, timeoutSeconds: this.o.startTimeoutSeconds ?? 900 }),
      () => 'its data is restored and it is running');
  }

  async import(): Promise<void> {
    const r = await this.step('importing', 'importing the tables', () => this.waits.importTables({ layout: this.layout! }),
      () => 'the node keeps running; tables already imported contain the backup\'s rows as well as their own');
    this.status.tables = r.tables.length;
  }

  async verify(): Promise<{ query?: string; rows?: number }> {
    return this.step('verifying', 'verifying the restore', () => this.steps.verifyRestore({ layout: this.layout! }), () => 'the node is restored and running');
  }

  async cleanup(): Promise<void> {
    if (!this.layout) return;
    const layout = this.layout;
    this.status.phase = 'cleaning';
    await this.steps.cleanupRestore({ layout });
    this.status.phase = 'done';
  }
}

/** Removes the restore directories of nodes nothing was changed on (after a failure before any stop or import). */
async function cleanupUntouched(nodes: NodeSteps[]): Promise<void> {
  await CancellationScope.nonCancellable(() => Promise.all(nodes.map(async (n) => {
    const ph = n.status.phase;
    const untouched = ['preparing', 'downloading', 'downloaded'].includes(ph) || (ph === 'failed' && n.status.error?.endsWith('nothing on the node was changed') === true);
    if (n.layout && untouched) {
      const keep = n.status.phase;
      await n.cleanup().catch(() => undefined);
      n.status.phase = keep;
    }
  })));
}

/** Restores `targets` (in token order); shared by restore-node (one target) and restore-cluster. */
async function restoreNodes(o: RestoreOptions & { keepAuth?: boolean }, targets: { fqdn: string; taskQueue?: string }[], parallel: number, progress: RestoreProgress): Promise<RestoreResult> {
  const mode = progress.mode;
  const info = workflowInfo();
  const runKey = `${info.runId.slice(0, 8)}`;
  const nodes = targets.map((t) => new NodeSteps(progress.nodes.find((s) => s.fqdn === t.fqdn)!, o, mode));
  if (mode === 'online' && progress.nodes.some((n) => n.pinTokens)) {
    throw ApplicationFailure.nonRetryable('a restore onto other hosts is offline only (their tokens change): use --offline', 'BadInput');
  }
  let verified: RestoreResult['verified'];
  try {
    progress.stage = 'downloading';
    await eachLimit(nodes, parallel, async (n) => {
      await n.prepare(runKey);
      await n.download();
    });
    if (mode === 'online') {
      progress.stage = 'importing';
      await eachLimit(nodes, parallel, (n) => n.import());
    } else {
      progress.stage = 'stopping';
      try {
        await eachLimit(nodes, nodes.length, (n) => n.stop());
      } catch (err) {
        // A node that would not stop: start the others again, their data untouched.
        await CancellationScope.nonCancellable(() => Promise.all(nodes.filter((n) => n.status.phase === 'stopped').map((n) => n.start().catch(() => undefined))));
        throw err;
      }
      progress.stage = 'swapping';
      await eachLimit(nodes, nodes.length, (n) => n.swap());
      progress.stage = 'starting';
      // One at a time, in token order: each node rejoins a ring whose other members are settled.
      for (const n of nodes) await n.start();
      // Done means serving: every restored node sees its whole ring Up/Normal.
      await eachLimit(nodes, nodes.length, (n) => n.waitForRing());
    }
    if (o.verify) {
      progress.stage = 'verifying';
      const v = await nodes[0].verify();
      if (v.query !== undefined) verified = { query: v.query, rows: v.rows ?? 0 };
    }
  } catch (err) {
    progress.stage = 'failed';
    await cleanupUntouched(nodes);
    throw err;
  }
  progress.stage = 'cleaning';
  await eachLimit(nodes, parallel, (n) => n.cleanup());
  progress.stage = 'done';
  return {
    backupName: o.backupName, mode, skipped: [], verified,
    nodes: nodes.map((n) => ({ fqdn: n.status.fqdn, ...(n.status.source && n.status.source !== n.status.fqdn ? { source: n.status.source } : {}), tables: n.status.tables ?? 0, files: n.status.files ?? 0, bytes: n.status.bytes ?? 0, downloadedBytes: n.status.downloadedBytes ?? 0 })),
  };
}

function checkOptions(o: RestoreOptions): RestoreMode {
  if (!o.backupName) throw ApplicationFailure.nonRetryable('backupName is required', 'BadInput');
  for (const t of o.tables ?? []) if (!/^[^.]+\.[^.]+$/.test(t)) throw ApplicationFailure.nonRetryable(`tables must be <keyspace>.<table>, not ${t}`, 'BadInput');
  return modeOf(o);
}

export async function restoreNode(input: RestoreNodeInput): Promise<RestoreResult> {
  const mode = checkOptions(input);
  if (!input.fqdn) throw ApplicationFailure.nonRetryable('fqdn is required', 'BadInput');
  const progress: RestoreProgress = { backupName: input.backupName, mode, stage: 'planning', nodes: [{ fqdn: input.fqdn, taskQueue: input.nodeTaskQueue, phase: 'waiting' }] };
  setHandler(restoreProgress, () => progress);
  return restoreNodes(input, [{ fqdn: input.fqdn, taskQueue: input.nodeTaskQueue }], 1, progress);
}

export async function restoreCluster(input: RestoreClusterInput): Promise<RestoreResult> {
  const mode = checkOptions(input);
  const parallel = positive(input.parallelRestores, 500, 'parallelRestores');
  const progress: RestoreProgress = { backupName: input.backupName, mode, stage: 'planning', nodes: [] };
  setHandler(restoreProgress, () => progress);
  const central = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry: RETRY });
  let plan: ClusterRestorePlan;
  try {
    plan = await central.planClusterRestore({
      backupName: input.backupName, bucketName: input.bucketName, prefix: input.prefix, seedTarget: input.seedTarget, hostList: input.hostList,
      force: input.force, nodeWorkers: input.nodeWorkers,
    });
  } catch (err) {
    progress.stage = 'failed';
    const c = cause(err);
    throw ApplicationFailure.create({ message: c.message, type: c.type ?? 'RestoreFailed', nonRetryable: true });
  }
  progress.nodes = plan.nodes.map((n) => ({
    fqdn: n.fqdn, taskQueue: n.taskQueue, phase: 'waiting', ...(n.source !== n.fqdn ? { source: n.source } : {}), ...(n.pinTokens ? { pinTokens: n.pinTokens } : {}),
  }));
  const lock = await acquireClusterLock(plan.lockId, plan.lockId.slice(plan.lockId.indexOf('/') + 1));
  try {
    const r = await restoreNodes(input, plan.nodes, parallel, progress);
    return { ...r, skipped: plan.skipped };
  } finally {
    await releaseLock(lock);
  }
}
