/**
 * `medusa backup-cluster`: every node of every datacenter, in two phases. Phase 1 snapshots all
 * nodes, at most `parallelSnapshots` at a time. Phase 2 runs one `backupNode` child per node, a
 * sliding window of at most `parallelUploads` (changeable while running), in token order; with
 * `stagger` a node first waits for its predecessor to finish, at most that long, or is dropped.
 * On failure or cancellation every unfinished node's snapshot is cleared and the backup is
 * reported incomplete, node by node. Deterministic: I/O happens in activities and children.
 */
import {
  ActivityFailure, ApplicationFailure, CancellationScope, ChildWorkflowFailure, condition, defineQuery, defineUpdate, executeChild, getExternalWorkflowHandle,
  isCancellation, proxyActivities, RetryPolicy, setHandler, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ClusterNode, DiscoveredCluster } from '../activities/cluster/discover';
import { snapshotTag } from '../plan/backup-name';
import type { BackupMode } from '../plan/layout';
import { expandNameTemplate } from '../plan/name-template';
import { PERMANENT_ERROR_TYPES } from '../shared/error-types';
import { BACKUP_MODE, BACKUP_NAME, BACKUP_OUTCOME } from '../shared/search-attributes';
import { backupNode, BackupNodeResult } from './backup-node';
import { acquireClusterLock, releaseLock } from './cluster-lock';
import { followBandwidth, transferMaxBandwidthChanged } from './live-bandwidth';

/** Input of {@link backupCluster}: one JSON object; only the name (or a name template) is needed. */
export interface BackupClusterInput {
  backupName?: string;
  /** For schedules: `%Y%m%d%H%M`-style fields filled with the run's start time (UTC). */
  backupNameTemplate?: string;
  /** Node whose token ring lists the cluster; default: the worker's [storage] fqdn. */
  seedTarget?: string;
  mode?: BackupMode;
  stagger?: number;
  enableMd5Checks?: boolean;
  keepSnapshot?: boolean;
  useExistingSnapshot?: boolean;
  tempDir?: string;
  /** Snapshots in flight at once (default 500). */
  parallelSnapshots?: number;
  /** Node uploads in flight at once (default 1); `setParallelUploads` changes it while running. */
  parallelUploads?: number;
  bucketName?: string;
  prefix?: string;
  /**
   * Run node steps on a worker on each node (its queue from `[orchestration] node_task_queue`) instead
   * of over SSH. Absent: `[orchestration] node_access` of the worker's medusa.ini decides.
   */
  nodeWorkers?: boolean;
  /**
   * Medusa's transfer_max_bandwidth for every node (`"20MB/s"`, or bytes per second; 0 = unlimited); default: the
   * worker's. The update setTransferMaxBandwidth changes it for the nodes uploading and those still to come.
   */
  transferMaxBandwidth?: string | number;
}

export type NodePhase = 'waiting' | 'snapshotting' | 'snapshotted' | 'uploading' | 'finished' | 'failed' | 'dropped';

export interface NodeStatus {
  fqdn: string;
  datacenter: string;
  /** The task queue of the worker on this node; absent: reached over SSH by the central worker. */
  taskQueue?: string;
  phase: NodePhase;
  /** Why it failed or was dropped: the node's own error text. */
  error?: string;
  result?: Pick<BackupNodeResult, 'files' | 'bytes' | 'uploadedFiles' | 'uploadedBytes' | 'keptFiles' | 'keptBytes'>;
  /** Workflow time (ms) when its upload started and ended: shows the parallelism actually used. */
  uploadStartedAt?: number;
  uploadEndedAt?: number;
}

export interface ClusterProgress {
  backupName: string;
  stage: 'discovering' | 'snapshots' | 'uploads' | 'cleanup' | 'done';
  parallelUploads: number;
  nodes: NodeStatus[];
  /** Nodes whose snapshot could not be cleared (clear them by hand). */
  cleanupFailed: string[];
}

export type BackupClusterResult = ClusterProgress;

export const clusterProgress = defineQuery<ClusterProgress>('clusterProgress');
export const setParallelUploads = defineUpdate<number, [number]>('setParallelUploads');


function errorText(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let text = e?.message ?? String(err);
  while (e && (e instanceof ActivityFailure || e instanceof ChildWorkflowFailure || e.cause)) {
    e = e.cause as typeof e;
    if (e?.message) text = e.message;
  }
  return text;
}

/** Activity errors start with the node's name; the node list names it already. */
function withoutNode(text: string, fqdn: string): string {
  return text.startsWith(`${fqdn}: `) ? text.slice(fqdn.length + 2) : text;
}

function positive(n: number | undefined, fallback: number, what: string): number {
  const v = n ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw ApplicationFailure.nonRetryable(`${what} must be a whole number ≥ 1, not ${String(n)}`, 'BadInput');
  return v;
}

const RETRY: RetryPolicy = { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5, nonRetryableErrorTypes: PERMANENT_ERROR_TYPES };

export async function backupCluster(input: BackupClusterInput = {}): Promise<BackupClusterResult> {
  const mode: BackupMode = input.mode ?? 'differential';
  if (mode !== 'full' && mode !== 'differential') throw ApplicationFailure.nonRetryable(`unknown mode ${String(input.mode)} (full or differential)`, 'BadInput');
  const backupName = input.backupName ?? (input.backupNameTemplate ? expandNameTemplate(input.backupNameTemplate, new Date(workflowInfo().startTime)) : undefined);
  if (!backupName) throw ApplicationFailure.nonRetryable('backupName (or backupNameTemplate) is required', 'BadInput');
  const progress: ClusterProgress = {
    backupName, stage: 'discovering', parallelUploads: positive(input.parallelUploads, 1, 'parallelUploads'), nodes: [], cleanupFailed: [],
  };
  const parallelSnapshots = positive(input.parallelSnapshots, 500, 'parallelSnapshots');
  setHandler(clusterProgress, () => progress);
  setHandler(setParallelUploads, (n) => {
    const old = progress.parallelUploads;
    progress.parallelUploads = n;
    return old;
  }, { validator: (n) => { if (!Number.isInteger(n) || n < 1) throw new Error(`parallel uploads must be a whole number ≥ 1, not ${String(n)}`); } });
  // A new limit goes to the nodes uploading now (by signal); nodes started later get it in their input.
  const bandwidth = followBandwidth(input.transferMaxBandwidth, (bps) => {
    for (const n of progress.nodes.filter((x) => x.phase === 'uploading')) {
      getExternalWorkflowHandle(nodeWorkflowId(n.fqdn)).signal(transferMaxBandwidthChanged, bps).catch(() => undefined);
    }
  });
  upsertSearchAttributes([{ key: BACKUP_NAME, value: backupName }, { key: BACKUP_MODE, value: mode }]);

  const central = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry: RETRY });
  let found: DiscoveredCluster;
  try {
    found = await central.discoverCluster({
      backupName, seedTarget: input.seedTarget, bucketName: input.bucketName, prefix: input.prefix, nodeWorkers: input.nodeWorkers,
    });
  } catch (err) {
    // The activity's own words (name exists, seed unreachable, bad storage), not "Activity task failed".
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      throw ApplicationFailure.create({ message: err.cause.message, type: err.cause.type ?? 'BackupFailed', nonRetryable: true });
    }
    throw err;
  }
  // One cluster backup at a time per cluster and catalogue, whoever started it (CLI, UI, schedule).
  let lock;
  try {
    lock = await acquireClusterLock(found.lockId, found.lockId.slice(found.lockId.indexOf('/') + 1));
  } catch (err) {
    upsertSearchAttributes([{ key: BACKUP_OUTCOME, value: 'refused' }]);
    throw err;
  }
  try {
    return await backUpNodes(input, backupName, mode, parallelSnapshots, progress, found.nodes, bandwidth);
  } finally {
    await releaseLock(lock);
  }
}

/** Phase 1, phase 2, and on failure or cancellation the cleanup; called with the cluster lock held. */
async function backUpNodes(
  input: BackupClusterInput, backupName: string, mode: BackupMode, parallelSnapshots: number, progress: ClusterProgress, nodes: ClusterNode[],
  bandwidth: { current(): number | null },
): Promise<BackupClusterResult> {
  const onNode = (n: NodeStatus) => proxyActivities<Activities>({
    startToCloseTimeout: '15 minutes', heartbeatTimeout: '1 minute', retry: RETRY,
    ...(n.taskQueue ? { taskQueue: n.taskQueue, scheduleToStartTimeout: '5 minutes' } : {}),
  });
  const tag = snapshotTag(backupName, input.useExistingSnapshot ?? false);
  const workDir = `${(input.tempDir ?? '/tmp').replace(/\/+$/, '')}/medusa-temporal/${backupName}`;
  progress.nodes = nodes.map((n: ClusterNode) => ({ fqdn: n.fqdn, datacenter: n.datacenter, ...(n.taskQueue ? { taskQueue: n.taskQueue } : {}), phase: 'waiting' }));
  const failed = () => progress.nodes.some((n) => n.phase === 'failed');
  let cancellation: unknown;

  try {
    // Phase 1: snapshots, a window of parallelSnapshots.
    progress.stage = 'snapshots';
    let inFlight = 0;
    const snapshots: Promise<void>[] = [];
    for (const node of progress.nodes) {
      await condition(() => inFlight < parallelSnapshots);
      inFlight++;
      node.phase = 'snapshotting';
      snapshots.push(onNode(node).takeSnapshot({ fqdn: node.fqdn, tag, mustExist: input.useExistingSnapshot ?? false })
        // Handlers never rethrow: a rejection nobody awaits yet would fail the workflow task.
        .then(() => { node.phase = 'snapshotted'; }, (err) => {
          if (isCancellation(err)) cancellation ??= err;
          node.phase = 'failed';
          node.error = isCancellation(err) ? 'cancelled' : withoutNode(errorText(err), node.fqdn);
        })
        .finally(() => { inFlight--; }));
    }
    await Promise.all(snapshots);
    if (cancellation) throw cancellation;
    if (failed()) throw ApplicationFailure.nonRetryable('some nodes failed to create the snapshot', 'BackupIncomplete');

    // Phase 2: one child per node, a sliding window of parallelUploads, in token order.
    progress.stage = 'uploads';
    inFlight = 0;
    const uploads: Promise<void>[] = [];
    for (const [i, node] of progress.nodes.entries()) {
      await condition(() => inFlight < progress.parallelUploads || failed());
      if (failed()) break;
      if (input.stagger && i > 0) {
        const before = progress.nodes[i - 1];
        const finished = await condition(() => before.phase === 'finished' || failed(), input.stagger * 1000);
        if (failed()) break;
        if (!finished) {
          node.phase = 'dropped';
          node.error = `dropped: ${before.fqdn} (before it in token order) did not finish within the stagger time of ${input.stagger} s`;
          continue;
        }
      }
      inFlight++;
      node.phase = 'uploading';
      node.uploadStartedAt = Date.now();
      uploads.push(CancellationScope.cancellable(() => executeNodeBackup(input, backupName, mode, node, bandwidth.current()))
        .then((r) => {
          node.phase = 'finished';
          node.result = { files: r.files, bytes: r.bytes, uploadedFiles: r.uploadedFiles, uploadedBytes: r.uploadedBytes, keptFiles: r.keptFiles, keptBytes: r.keptBytes };
        }, (err) => {
          if (isCancellation(err)) cancellation ??= err;
          node.phase = 'failed';
          node.error = isCancellation(err) ? 'cancelled' : withoutNode(errorText(err), node.fqdn);
        })
        .finally(() => { inFlight--; node.uploadEndedAt = Date.now(); }));
    }
    await Promise.all(uploads);
    if (cancellation) throw cancellation;
    const unfinished = progress.nodes.filter((n) => n.phase !== 'finished');
    if (unfinished.length > 0) throw ApplicationFailure.nonRetryable(`${unfinished.length} of ${progress.nodes.length} nodes did not finish`, 'BackupIncomplete');
    progress.stage = 'done';
    upsertSearchAttributes([{ key: BACKUP_OUTCOME, value: 'success' }]);
    return progress;
  } catch (err) {
    await CancellationScope.nonCancellable(async () => {
      progress.stage = 'cleanup';
      const cancelled = isCancellation(err);
      for (const n of progress.nodes) {
        if (cancelled && n.error === 'cancelled') n.phase = 'dropped';
        if (n.phase === 'waiting' || n.phase === 'snapshotting' || n.phase === 'snapshotted' || n.phase === 'uploading') {
          n.phase = cancelled ? 'dropped' : 'failed';
          n.error ??= cancelled ? 'cancelled' : 'not backed up: the cluster backup stopped';
        }
      }
      // Every node that did not finish gets its snapshot cleared (finished nodes cleared their own).
      await Promise.all(progress.nodes.filter((n) => n.phase !== 'finished').map(async (n) => {
        try {
          await onNode(n).clearSnapshot({ fqdn: n.fqdn, tag: snapshotTag(backupName, false), workDir });
        } catch {
          progress.cleanupFailed.push(n.fqdn);
        }
      }));
      progress.stage = 'done';
      upsertSearchAttributes([{ key: BACKUP_OUTCOME, value: cancelled ? 'cancelled' : 'incomplete' }]);
    });
    if (isCancellation(err)) throw err;
    const lines = progress.nodes.filter((n) => n.phase !== 'finished').map((n) => `${n.fqdn}: ${n.error ?? n.phase}`);
    const cleanup = progress.cleanupFailed.length ? `; snapshot not cleared on ${progress.cleanupFailed.join(', ')}` : '';
    throw ApplicationFailure.create({
      message: `backup ${backupName} is incomplete: ${lines.join('; ')}${cleanup}`, type: 'BackupIncomplete', nonRetryable: true, details: [progress],
    });
  }
}

/**
 * The workflow id of a node's backup: derived from this run's id, which is unique among running workflows, so no
 * clash with a node backup of the same name in another prefix or bucket.
 */
function nodeWorkflowId(fqdn: string): string {
  return `${workflowInfo().workflowId}/${fqdn}`;
}

function executeNodeBackup(input: BackupClusterInput, backupName: string, mode: BackupMode, node: NodeStatus, bandwidth: number | null): Promise<BackupNodeResult> {
  const fqdn = node.fqdn;
  return executeChild(backupNode, {
    workflowId: nodeWorkflowId(fqdn),
    args: [{
      backupName, fqdn, mode, enableMd5Checks: input.enableMd5Checks, keepSnapshot: input.keepSnapshot,
      useExistingSnapshot: input.useExistingSnapshot, tempDir: input.tempDir, bucketName: input.bucketName, prefix: input.prefix,
      nodeTaskQueue: node.taskQueue, snapshotTakenByCluster: true, ...(bandwidth === null ? {} : { transferMaxBandwidth: bandwidth }),
    }],
  });
}
