/**
 * `medusa backup` for one node, as a durable workflow: check the name, write the meta files and
 * index start entries, snapshot, plan, upload (heartbeating, resumable), write the manifest and
 * index finish entries, and clear the snapshot — on success, failure and cancellation alike unless
 * `keepSnapshot`. Deterministic: every step with I/O is an activity.
 */
import {
  ActivityFailure, ApplicationFailure, CancellationScope, defineQuery, isCancellation, proxyActivities, RetryPolicy, setHandler,
  sleep, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PlanSummary, UploadResult } from '../activities/backup/types';
import { snapshotTag } from '../plan/backup-name';
import type { BackupMode } from '../plan/layout';
import { runWorkDir } from '../plan/work-dir';
import { PERMANENT_ERROR_TYPES } from '../shared/error-types';
import { reportedNodeFailure } from './node-failure';
import { followBandwidth } from './live-bandwidth';
import { BACKUP_MODE, BACKUP_NAME, BACKUP_OUTCOME } from '../shared/search-attributes';

/** Input of {@link backupNode}: one JSON object, every field but the name and node defaulted. */
export interface BackupNodeInput {
  backupName: string;
  /** The node, as Medusa names it: the [storage] fqdn the node's backups live under (and the address to reach it). */
  fqdn: string;
  /** Default differential. */
  mode?: BackupMode;
  /** Compare MD5s as well as sizes before reusing a pool file; default: the worker's [checks] enable_md5_checks. */
  enableMd5Checks?: boolean;
  keepSnapshot?: boolean;
  /** Back up the existing snapshot named exactly `backupName` (Medusa's --use-existing-snapshot). */
  useExistingSnapshot?: boolean;
  /**
   * Medusa's --stagger, in seconds: before its snapshot, a node with no finished backup yet waits
   * until the node before it in token order has one, checking every minute with a durable timer;
   * past the limit the backup fails. Once a node has any finished backup it never waits again.
   */
  stagger?: number;
  /** Work files on the node go under this directory (default /tmp). */
  tempDir?: string;
  bucketName?: string;
  prefix?: string;
  /** Task queue of a worker running on the node; default: this workflow's queue (the central worker, over SSH). */
  nodeTaskQueue?: string;
  /** With nodeTaskQueue: fail when no worker on that queue picks up a step within this many seconds (default 300). */
  nodeStartTimeoutSeconds?: number;
  /**
   * Medusa's transfer_max_bandwidth for this run (`"20MB/s"`, or bytes per second; 0 = unlimited); default: the
   * worker's. The update setTransferMaxBandwidth changes it while the backup runs.
   */
  transferMaxBandwidth?: string | number;
  /**
   * Set by backup-cluster, which has checked the name and taken this node's snapshot (tagged for `backupName`) in its
   * phase 1: both steps are skipped here. Default false.
   */
  snapshotTakenByCluster?: boolean;
  /**
   * Start-to-close bound, in seconds, of the node's short steps (meta files, snapshot) — default 900. Planning
   * (hashing included), the upload and the manifest have none but a week: they heartbeat, and a dead worker is noticed
   * within a minute of their last heartbeat instead.
   */
  stepTimeoutSeconds?: number;
}

export type BackupPhase = 'checking' | 'meta' | 'staggering' | 'snapshot' | 'planning' | 'uploading' | 'manifest' | 'clearing' | 'done' | 'failed';

export interface BackupNodeProgress {
  phase: BackupPhase;
  plan?: PlanSummary;
}

export interface BackupNodeResult {
  backupName: string;
  fqdn: string;
  mode: BackupMode;
  files: number;
  bytes: number;
  uploadedFiles: number;
  uploadedBytes: number;
  keptFiles: number;
  keptBytes: number;
  /** Files a crashed earlier attempt had already sent completely, not sent again. */
  alreadyPresentFiles: number;
  /** Bytes hashed on the node by md5 checks (the planning attempt that succeeded; earlier attempts' verdicts are reused), and the seconds it took. */
  hashedBytes: number;
  hashSeconds: number;
  snapshotCleared: boolean;
  manifestKey: string;
}

export const backupNodeProgress = defineQuery<BackupNodeProgress>('progress');


/** Waits (durable timers, at most a minute between checks) until staggerReady says go, or fails past `seconds`. */
async function staggerWait(steps: ReturnType<typeof proxyActivities<Activities>>, ref: Parameters<Activities['staggerReady']>[0], seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const verdict = await steps.staggerReady(ref);
    if (verdict.ready) return;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw ApplicationFailure.nonRetryable(`Backups on previous nodes did not complete within our stagger time (${seconds} s): ${verdict.reason}`, 'StaggerTimeout');
    }
    await sleep(Math.min(60_000, left));
  }
}

export async function backupNode(input: BackupNodeInput): Promise<BackupNodeResult> {
  try {
    return await runBackupNode(input);
  } catch (err) {
    throw reportedNodeFailure(err, input, 'BackupFailed');
  }
}

async function runBackupNode(input: BackupNodeInput): Promise<BackupNodeResult> {
  const mode: BackupMode = input.mode ?? 'differential';
  if (mode !== 'full' && mode !== 'differential') throw ApplicationFailure.nonRetryable(`unknown mode ${String(input.mode)} (full or differential)`, 'BadInput');
  if (!input.backupName || !input.fqdn) throw ApplicationFailure.nonRetryable('backupName and fqdn are required', 'BadInput');
  const progress: BackupNodeProgress = { phase: 'checking' };
  setHandler(backupNodeProgress, () => progress);
  followBandwidth(input.transferMaxBandwidth);
  upsertSearchAttributes([{ key: BACKUP_NAME, value: input.backupName }, { key: BACKUP_MODE, value: mode }]);

  const taskQueue = input.nodeTaskQueue ?? workflowInfo().taskQueue;
  // A node's own queue has one worker, on that node: when it is not running, fail instead of waiting forever.
  const startSeconds = input.nodeStartTimeoutSeconds ?? 300;
  if (!(startSeconds > 0)) throw ApplicationFailure.nonRetryable(`nodeStartTimeoutSeconds must be > 0, not ${String(input.nodeStartTimeoutSeconds)}`, 'BadInput');
  const onNode = input.nodeTaskQueue ? { scheduleToStartTimeout: startSeconds * 1000 } : {};
  const retry: RetryPolicy = { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5, nonRetryableErrorTypes: PERMANENT_ERROR_TYPES };
  // Storage-only steps stay with the central worker; steps that touch the node go to the node's worker.
  // Every node step heartbeats (a dead worker is noticed within a minute); steps whose time grows with the
  // data — planning with its hashing, the upload, the manifest's checks — have no fixed bound beyond that.
  const central = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry });
  const stepSeconds = input.stepTimeoutSeconds ?? 900;
  if (!(stepSeconds > 0)) throw ApplicationFailure.nonRetryable(`stepTimeoutSeconds must be > 0, not ${String(input.stepTimeoutSeconds)}`, 'BadInput');
  const steps = proxyActivities<Activities>({ taskQueue, ...onNode, startToCloseTimeout: stepSeconds * 1000, heartbeatTimeout: '1 minute', retry });
  const transfer = proxyActivities<Activities>({ taskQueue, ...onNode, startToCloseTimeout: '7 days', heartbeatTimeout: '1 minute', retry: { ...retry, maximumAttempts: 20 } });
  const cleanup = proxyActivities<Activities>({ taskQueue, ...onNode, startToCloseTimeout: '10 minutes', heartbeatTimeout: '1 minute', retry: { ...retry, maximumAttempts: 10 } });

  const ref = { backupName: input.backupName, fqdn: input.fqdn, mode, bucketName: input.bucketName, prefix: input.prefix };
  const useExisting = input.useExistingSnapshot ?? false;
  const tag = snapshotTag(input.backupName, useExisting);
  // One work directory per run: two backups of the same name (other prefix or bucket) never share a plan.
  const info = workflowInfo();
  const workDir = runWorkDir(input.tempDir, info.workflowId, info.runId);

  const byCluster = input.snapshotTakenByCluster ?? false;
  if (!byCluster) await central.checkBackupName({ ...ref, useExistingSnapshot: useExisting });
  progress.phase = 'meta';
  const start = await steps.writeBackupStart(ref);
  if (input.stagger !== undefined && input.stagger > 0) {
    progress.phase = 'staggering';
    await staggerWait(central, ref, input.stagger);
  }
  let snapshotCleared = false;
  try {
    progress.phase = 'snapshot';
    if (!byCluster) await steps.takeSnapshot({ fqdn: input.fqdn, tag, dataDir: start.dataDir, mustExist: useExisting });
    let plan: PlanSummary;
    let upload: UploadResult;
    for (let attempt = 1; ; attempt++) {
      progress.phase = 'planning';
      plan = await transfer.planBackup({ ...ref, tag, dataDir: start.dataDir, workDir, enableMd5Checks: input.enableMd5Checks });
      progress.plan = plan;
      progress.phase = 'uploading';
      try {
        upload = await transfer.uploadFiles({ ...ref, planPath: plan.planPath });
        break;
      } catch (err) {
        // The plan file vanished from the node (temp dir cleaned, node rebuilt): plan again, once.
        const lost = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'PlanMissing';
        if (!lost || attempt >= 2) throw err;
      }
    }
    progress.phase = 'manifest';
    const finish = await transfer.finishBackup({ ...ref, planPath: plan.planPath });
    progress.phase = 'clearing';
    if (!(input.keepSnapshot ?? false)) {
      snapshotCleared = (await cleanup.clearSnapshot({ fqdn: input.fqdn, tag, dataDir: start.dataDir, workDir })).cleared;
    }
    progress.phase = 'done';
    upsertSearchAttributes([{ key: BACKUP_OUTCOME, value: 'success' }]);
    return {
      backupName: input.backupName, fqdn: input.fqdn, mode, files: plan.files, bytes: plan.bytes,
      uploadedFiles: upload.filesUploaded, uploadedBytes: upload.bytesUploaded, keptFiles: plan.keptFiles, keptBytes: plan.keptBytes,
      alreadyPresentFiles: upload.filesAlreadyPresent, hashedBytes: plan.hashedBytes ?? 0, hashSeconds: plan.hashSeconds ?? 0, snapshotCleared, manifestKey: finish.manifestKey,
    };
  } catch (err) {
    progress.phase = 'failed';
    // Cleanup runs even when the workflow is being cancelled, then the original error is reported.
    await CancellationScope.nonCancellable(async () => {
      upsertSearchAttributes([{ key: BACKUP_OUTCOME, value: isCancellation(err) ? 'cancelled' : 'failed' }]);
      if (!(input.keepSnapshot ?? false)) {
        await cleanup.clearSnapshot({ fqdn: input.fqdn, tag, dataDir: start.dataDir, workDir }).catch(() => undefined);
      }
    });
    throw err;
  }
}
