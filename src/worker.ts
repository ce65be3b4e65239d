/**
 * The worker: runs the workflows and the activities that reach Cassandra nodes and storage.
 * `medusa worker` (and `npm run worker`) start it against the configured Temporal server.
 */
import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { DEFAULT_TASK_QUEUE } from './shared/constants';
import { connectWorker, temporalTarget } from './temporal/connection';
import { VERSION } from './version';

export interface MedusaWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** A pre-built bundle (tests bundle once per file); default: bundle src/workflows at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  identity?: string;
}

export function createWorker(o: MedusaWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace ?? 'default',
    taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities({ version: VERSION }),
    ...(o.identity ? { identity: o.identity } : {}),
    // Uploads get time to checkpoint through their heartbeat before the worker goes away.
    shutdownGraceTime: '30 seconds',
  });
}

export async function runWorker(taskQueue = DEFAULT_TASK_QUEUE): Promise<void> {
  const target = temporalTarget();
  const connection = await connectWorker(target);
  try {
    const worker = await createWorker({ connection, namespace: target.namespace, taskQueue });
    process.stderr.write(`medusa worker: polling task queue ${taskQueue} at ${target.address} (namespace ${target.namespace})\n`);
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((err: Error) => {
    process.stderr.write(`medusa worker: ${err.message}\n`);
    process.exit(1);
  });
}
