/**
 * "A cluster backup runs here": a workflow whose id names the cluster and the catalogue, started
 * by the running backupCluster as its child. Temporal keeps workflow ids unique among running
 * workflows, so a second backup cannot start one: that is the lock, without races and without
 * polling. Released by a signal when the backup has cleaned up; if the backup is terminated
 * instead, the parent-close policy terminates the lock with it, so no orphan blocks the cluster.
 */
import {
  ApplicationFailure, CancellationScope, ChildWorkflowHandle, condition, defineSignal, ParentClosePolicy, proxyActivities, setHandler,
  startChild, WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';

export interface ClusterLockInput {
  /** Cluster name and catalogue, for people reading the UI. */
  cluster: string;
}

export const releaseClusterLock = defineSignal('releaseClusterLock');

export async function clusterLock(_input: ClusterLockInput): Promise<void> {
  let released = false;
  setHandler(releaseClusterLock, () => { released = true; });
  await condition(() => released);
}

const { clusterLockHolder } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });

/**
 * Takes the lock or fails with `ClusterBusy`, naming the backup or restore that holds it. The child is started
 * outside the caller's cancellation scope: cancelling the backup must not release the lock before
 * its cleanup is done.
 */
export async function acquireClusterLock(lockId: string, cluster: string): Promise<ChildWorkflowHandle<typeof clusterLock>> {
  try {
    return await CancellationScope.nonCancellable(() => startChild(clusterLock, {
      workflowId: lockId, args: [{ cluster }],
      parentClosePolicy: ParentClosePolicy.TERMINATE, workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    }));
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const holder = await clusterLockHolder(lockId);
    throw ApplicationFailure.nonRetryable(
      `another backup or restore of cluster ${cluster} is running${holder ? ` (workflow ${holder})` : ''}: backups and restores of a cluster run one at a time`, 'ClusterBusy',
    );
  }
}

export async function releaseLock(lock: ChildWorkflowHandle<typeof clusterLock>): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    try {
      await lock.signal(releaseClusterLock);
      await lock.result();
    } catch {
      // Terminated by hand: it is released either way.
    }
  });
}
