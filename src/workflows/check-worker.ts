import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities, WorkerDescription } from '../activities';

/** Input of {@link checkWorker}; every field has a default so the Temporal UI can start it with `{}`. */
export interface CheckWorkerInput {
  /** Task queue whose worker should answer; default: the queue this workflow runs on. */
  taskQueue?: string;
}

export interface CheckWorkerResult {
  workflowId: string;
  worker: WorkerDescription;
}

/**
 * Asks a worker polling a task queue to describe itself. `medusa check-worker` uses it to prove
 * that a worker is up (a node-local worker, or the central one) before a backup is started.
 */
export async function checkWorker(input: CheckWorkerInput = {}): Promise<CheckWorkerResult> {
  const { describeWorker } = proxyActivities<Activities>({
    taskQueue: input.taskQueue ?? workflowInfo().taskQueue,
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '30 seconds',
    retry: { maximumAttempts: 3 },
  });
  return { workflowId: workflowInfo().workflowId, worker: await describeWorker() };
}
