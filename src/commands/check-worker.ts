import type { MedusaConfig } from '../config/medusa-config';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import { openSession } from '../temporal/session';
import type { checkWorker } from '../workflows';

export interface CheckWorkerOptions {
  taskQueue?: string;
  timeoutSeconds: number;
  /** medusa.ini, when readable: its [temporal] section says which Temporal to check. */
  config?: MedusaConfig;
}

/** `medusa check-worker`: proves a worker polls the task queue, by running a workflow on it. */
export async function checkWorkerCommand(o: CheckWorkerOptions): Promise<void> {
  const taskQueue = o.taskQueue ?? DEFAULT_TASK_QUEUE;
  // Embedded, the answer comes from this command's own worker: it proves the embedded server works.
  const session = await openSession({ config: o.config, taskQueue, worker: true });
  try {
    const client = session.client;
    const result = await client.workflow.execute<typeof checkWorker>('checkWorker', {
      taskQueue,
      workflowId: `check-worker/${taskQueue}/${Date.now()}`,
      args: [{}],
      workflowExecutionTimeout: `${o.timeoutSeconds} seconds`,
    });
    const w = result.worker;
    process.stdout.write(`worker on ${taskQueue}: host ${w.hostname}, pid ${w.pid}, medusa ${w.version}, node ${w.nodeVersion}\n`);
  } finally {
    await session.close();
  }
}
