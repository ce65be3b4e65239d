/**
 * Where a command's workflows run. A configured Temporal cluster (TEMPORAL_ADDRESS or a profile,
 * read by @temporalio/envconfig, else `[temporal] address` of medusa.ini) is used as is: a worker
 * elsewhere runs the work, and an address that does not answer is an error naming it, never a
 * fall-back. With nothing configured the command runs embedded: it shares or starts the embedded
 * server of its state directory and runs a worker in its own process for as long as it lives.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { centralNodeMode, createActivityContext } from '../activities/context';
import type { MedusaConfig } from '../config/medusa-config';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import { createWorker } from '../worker';
import { connectClient, connectWorker, TemporalTarget } from './connection';
import { EmbeddedTemporal } from './embedded';
import { planTemporal } from './plan';

export { planTemporal } from './plan';

export interface TemporalSession {
  client: Client;
  namespace: string;
  /** Set when this command runs on the embedded server, with a worker in this process. */
  embedded?: EmbeddedTemporal;
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Needed to run the in-process worker's backup activities in embedded mode. */
  config?: MedusaConfig;
  /** The queue the in-process worker polls (the command's --task-queue). */
  taskQueue?: string;
  /** Run a worker in this process when embedded (commands that run workflows). */
  worker?: boolean;
  /**
   * Embedded on a Cassandra node, acting on that node: a second in-process worker polls this queue
   * (the node's own, which the workflow's node steps go to) and reaches the node's files directly.
   */
  localNodeQueue?: string;
  log?: (line: string) => void;
}

function installQuietRuntime(): void {
  try {
    // The command owns its signals (Ctrl-C pauses an embedded backup); the SDK's own lines only on errors.
    Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  } catch {
    // Already installed (a test, or a second session in one process).
  }
}

export async function openSession(o: SessionOptions = {}): Promise<TemporalSession> {
  const plan = planTemporal(o.config);
  if (plan.kind === 'cluster') {
    const connection = await connectClient(plan.target);
    return { client: new Client({ connection, namespace: plan.target.namespace }), namespace: plan.target.namespace, close: () => connection.close() };
  }
  const embedded = await EmbeddedTemporal.acquire(plan.stateDir);
  let connection: Connection | undefined;
  let native: NativeConnection | undefined;
  const running: { worker: Worker; done: Promise<void> }[] = [];
  const close = async () => {
    for (const r of running) r.worker.shutdown();
    for (const r of running) await r.done.catch(() => undefined);
    await native?.close();
    await connection?.close();
    await embedded.release();
  };
  try {
    const target: TemporalTarget = { address: embedded.address, namespace: plan.namespace, config: { connectionOptions: {} }, configured: false };
    o.log?.(`embedded Temporal server ${embedded.started ? 'started' : 'shared'} (state ${plan.stateDir}; UI ${embedded.uiUrl})`);
    connection = await connectClient(target);
    if (o.worker) {
      installQuietRuntime();
      native = await connectWorker(target);
      const worker = await createWorker({
        connection: native, namespace: plan.namespace, taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
        context: o.config ? createActivityContext(o.config, centralNodeMode(o.config)) : undefined, shutdownGraceTime: '5 seconds',
      });
      running.push({ worker, done: worker.run() });
      if (o.localNodeQueue && o.config) {
        const onNode = await createWorker({
          connection: native, namespace: plan.namespace, taskQueue: o.localNodeQueue, activitiesOnly: true,
          context: createActivityContext(o.config, 'local'), shutdownGraceTime: '5 seconds',
        });
        running.push({ worker: onNode, done: onNode.run() });
      }
    }
    return { client: new Client({ connection, namespace: plan.namespace }), namespace: plan.namespace, embedded, close };
  } catch (err) {
    await close();
    throw err;
  }
}
