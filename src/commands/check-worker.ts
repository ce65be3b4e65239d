import { Client } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import { connectClient, temporalTarget } from '../temporal/connection';
import type { checkWorker } from '../workflows';

export interface CheckWorkerOptions {
  taskQueue?: string;
  timeoutSeconds: number;
}

/** `medusa check-worker`: proves a worker polls the task queue, by running a workflow on it. */
export async function checkWorkerCommand(o: CheckWorkerOptions): Promise<void> {
  const target = temporalTarget();
  const connection = await connectClient(target);
  try {
    const client = new Client({ connection, namespace: target.namespace });
    const taskQueue = o.taskQueue ?? DEFAULT_TASK_QUEUE;
    const result = await client.workflow.execute<typeof checkWorker>('checkWorker', {
      taskQueue,
      workflowId: `check-worker/${taskQueue}/${Date.now()}`,
      args: [{}],
      workflowExecutionTimeout: `${o.timeoutSeconds} seconds`,
    });
    const w = result.worker;
    process.stdout.write(`worker on ${taskQueue}: host ${w.hostname}, pid ${w.pid}, medusa ${w.version}, node ${w.nodeVersion}\n`);
  } finally {
    await connection.close();
  }
}
