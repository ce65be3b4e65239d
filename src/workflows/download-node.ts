/**
 * `medusa download` for one node, as a durable workflow: plan (find the backup, select the
 * tables, refuse paths that would escape the destination, check free space — before anything is
 * written), then download every selected object into the destination on the node (heartbeating,
 * resumable: a retry after a worker crash keeps the files already complete), then Medusa's meta
 * files. The plan lives in a work file on the node, never in this history. Deterministic: every
 * step with I/O is an activity.
 */
import {
  ActivityFailure, ApplicationFailure, CancellationScope, defineQuery, proxyActivities, RetryPolicy, setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DownloadPlanSummary, DownloadResult } from '../activities/restore/types';
import { runWorkDir } from '../plan/work-dir';
import { followBandwidth } from './live-bandwidth';
import { PERMANENT_ERROR_TYPES } from '../shared/error-types';
import { reportedNodeFailure } from './node-failure';

/** Input of {@link downloadNode}: one JSON object, every field but the name, node and destination defaulted. */
export interface DownloadNodeInput {
  backupName: string;
  /** The node whose backup is downloaded, and onto which (Medusa downloads this node's own backup onto it). */
  fqdn: string;
  /** The node written to, when it is not `fqdn` (a restore onto other hosts); default: `fqdn`. */
  targetFqdn?: string;
  /** Absolute path of an existing directory on the node. */
  destination: string;
  /** Medusa's --keyspace (repeatable): whole keyspaces. */
  keyspaces?: string[];
  /** Medusa's --table ks.t (repeatable): tables, without their id. */
  tables?: string[];
  /** Medusa's --ignore-system-keyspaces: system keyspaces are otherwise always downloaded. */
  ignoreSystemKeyspaces?: boolean;
  /** Work files on the node go under this directory (default /tmp). */
  tempDir?: string;
  bucketName?: string;
  prefix?: string;
  /** Task queue of a worker running on the node; default: this workflow's queue (the central worker, over SSH). */
  nodeTaskQueue?: string;
  /** With nodeTaskQueue: fail when no worker on that queue picks up a step within this many seconds (default 300). */
  nodeStartTimeoutSeconds?: number;
  /** As for a backup: this run's transfer_max_bandwidth, changed while running by the update setTransferMaxBandwidth. */
  transferMaxBandwidth?: string | number;
}

export type DownloadPhase = 'planning' | 'downloading' | 'done' | 'failed';

export interface DownloadNodeProgress {
  phase: DownloadPhase;
  plan?: DownloadPlanSummary;
}

export interface DownloadNodeResult {
  backupName: string;
  fqdn: string;
  destination: string;
  tables: number;
  files: number;
  bytes: number;
  downloadedFiles: number;
  downloadedBytes: number;
  /** Files already complete on the node (an interrupted attempt or an earlier run), not downloaded again. */
  alreadyPresentFiles: number;
  alreadyPresentBytes: number;
  md5CheckedFiles: number;
}

export const downloadNodeProgress = defineQuery<DownloadNodeProgress>('downloadProgress');

export async function downloadNode(input: DownloadNodeInput): Promise<DownloadNodeResult> {
  try {
    return await runDownloadNode(input);
  } catch (err) {
    throw reportedNodeFailure(err, input, 'DownloadFailed');
  }
}

async function runDownloadNode(input: DownloadNodeInput): Promise<DownloadNodeResult> {
  if (!input.backupName || !input.fqdn || !input.destination) throw ApplicationFailure.nonRetryable('backupName, fqdn and destination are required', 'BadInput');
  const progress: DownloadNodeProgress = { phase: 'planning' };
  setHandler(downloadNodeProgress, () => progress);
  followBandwidth(input.transferMaxBandwidth);

  const taskQueue = input.nodeTaskQueue ?? workflowInfo().taskQueue;
  const startSeconds = input.nodeStartTimeoutSeconds ?? 300;
  if (!(startSeconds > 0)) throw ApplicationFailure.nonRetryable(`nodeStartTimeoutSeconds must be > 0, not ${String(input.nodeStartTimeoutSeconds)}`, 'BadInput');
  const onNode = input.nodeTaskQueue ? { scheduleToStartTimeout: startSeconds * 1000 } : {};
  const retry: RetryPolicy = { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5, nonRetryableErrorTypes: PERMANENT_ERROR_TYPES };
  const steps = proxyActivities<Activities>({ taskQueue, ...onNode, startToCloseTimeout: '15 minutes', heartbeatTimeout: '1 minute', retry });
  const transfer = proxyActivities<Activities>({ taskQueue, ...onNode, startToCloseTimeout: '7 days', heartbeatTimeout: '1 minute', retry: { ...retry, maximumAttempts: 20 } });

  const info = workflowInfo();
  const workDir = runWorkDir(input.tempDir, info.workflowId, info.runId);
  const request = {
    backupName: input.backupName, fqdn: input.fqdn, targetFqdn: input.targetFqdn, bucketName: input.bucketName, prefix: input.prefix, destination: input.destination,
    keyspaces: input.keyspaces ?? [], tables: input.tables ?? [], ignoreSystemKeyspaces: input.ignoreSystemKeyspaces ?? false, workDir,
  };
  try {
    let plan: DownloadPlanSummary;
    let result: DownloadResult;
    for (let attempt = 1; ; attempt++) {
      progress.phase = 'planning';
      plan = await transfer.planDownload(request);
      progress.plan = plan;
      progress.phase = 'downloading';
      try {
        result = await transfer.downloadFiles({ fqdn: input.targetFqdn ?? input.fqdn, bucketName: input.bucketName, planPath: plan.planPath });
        break;
      } catch (err) {
        // The plan file vanished from the node (temp dir cleaned): plan again, once.
        const lost = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'PlanMissing';
        if (!lost || attempt >= 2) throw err;
      }
    }
    progress.phase = 'done';
    return {
      backupName: input.backupName, fqdn: input.fqdn, destination: plan.destination, tables: plan.tables, files: plan.files, bytes: plan.bytes,
      downloadedFiles: result.filesDownloaded, downloadedBytes: result.bytesDownloaded,
      alreadyPresentFiles: result.filesAlreadyPresent, alreadyPresentBytes: result.bytesAlreadyPresent, md5CheckedFiles: result.filesMd5Checked,
    };
  } catch (err) {
    progress.phase = 'failed';
    throw err;
  } finally {
    // The plan is only a work file: gone after success, failure and cancellation alike.
    await CancellationScope.nonCancellable(() => steps.removeDownloadWorkDir({ fqdn: input.targetFqdn ?? input.fqdn, workDir }).catch(() => undefined));
  }
}
