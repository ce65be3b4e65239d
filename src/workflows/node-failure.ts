/**
 * How a node workflow (backup, download) reports an activity's failure: a node worker that never
 * picked the step up is named with the command to start it, and an activity's own failure keeps its
 * type and message instead of the generic "Activity task failed". Deterministic: no I/O.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';

export interface NodeRef {
  fqdn: string;
  nodeTaskQueue?: string;
  nodeStartTimeoutSeconds?: number;
}

export function reportedNodeFailure(err: unknown, node: NodeRef, fallbackType: string): unknown {
  if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START') {
    const queue = String(node.nodeTaskQueue);
    return ApplicationFailure.create({
      message: `${node.fqdn}: the node worker on task queue ${queue} did not pick up ${err.activityType} within ${node.nodeStartTimeoutSeconds ?? 300} s `
        + `(is \`medusa worker --node-local --task-queue ${queue}\` running on ${node.fqdn}?)`,
      type: 'NodeWorkerUnavailable', nonRetryable: true,
    });
  }
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    return ApplicationFailure.create({ message: err.cause.message, type: err.cause.type ?? fallbackType, nonRetryable: true });
  }
  return err;
}
