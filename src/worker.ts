/**
 * The worker: runs the workflows and the activities that reach Cassandra nodes and storage.
 * `medusa worker` (and `npm run worker`) start it against the configured Temporal server.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { ActivityContext, centralNodeMode, createActivityContext } from './activities/context';
import { ConfigError, ConfigOverrides, loadMedusaConfig, nodeTaskQueueOf } from './config/medusa-config';
import { DEFAULT_TASK_QUEUE } from './shared/constants';
import { connectWorker, TemporalTarget } from './temporal/connection';
import { EmbeddedTemporal } from './temporal/embedded';
import { planTemporal } from './temporal/plan';
import { VERSION } from './version';
import { serveMetrics } from './worker-metrics';

export interface MedusaWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** A pre-built bundle (tests bundle once per file); default: bundle src/workflows at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  identity?: string;
  /** Configuration and ports for the backup activities; absent: only check-worker works. */
  context?: ActivityContext;
  /** Activities only (a worker on a node: workflow tasks never go to node queues). */
  activitiesOnly?: boolean;
  /** How long running activities may go on after shutdown starts (default 30 s). */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
}

/** The workflows bundled when the release was built (scripts/release.sh); absent in a checkout, where the worker bundles them at start. */
const PREBUILT_BUNDLE = join(__dirname, 'workflow-bundle.js');

function workflowCode(o: MedusaWorkerOptions): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (o.activitiesOnly) return {};
  if (o.workflowBundle) return { workflowBundle: o.workflowBundle };
  return existsSync(PREBUILT_BUNDLE) ? { workflowBundle: { codePath: PREBUILT_BUNDLE } } : { workflowsPath: require.resolve('./workflows') };
}

export function createWorker(o: MedusaWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace ?? 'default',
    taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
    ...workflowCode(o),
    activities: createActivities({ version: VERSION, context: o.context }),
    ...(o.identity ? { identity: o.identity } : {}),
    // Uploads get time to checkpoint through their heartbeat before the worker goes away.
    shutdownGraceTime: o.shutdownGraceTime ?? '30 seconds',
    // Progress (files and bytes sent) reaches the server, hence the CLI and the UI, every few seconds.
    maxHeartbeatThrottleInterval: '3 seconds',
  });
}

export interface RunWorkerOptions {
  taskQueue?: string;
  configFile: string;
  /** Medusa's global options (--bucket-name, --prefix, --fqdn, --key-file), as for any other command. */
  overrides?: ConfigOverrides;
  /** A worker on a Cassandra node (`--node-local`): that node's steps, on its files directly. Otherwise a central worker, reaching nodes as `[orchestration] node_access` says. */
  nodeLocal?: boolean;
  /** Serve Prometheus metrics (the SDK's and the backups') at http://<ip:port>/metrics (src/worker-metrics.ts). */
  metricsAddress?: string;
}

export async function runWorker(o: RunWorkerOptions): Promise<void> {
  const config = loadMedusaConfig(o.configFile, o.overrides);
  const nodeLocal = o.nodeLocal === true;
  // A node's worker serves that node's queue, named as the central worker will name it ([orchestration] node_task_queue).
  const taskQueue = o.taskQueue ?? (nodeLocal ? nodeTaskQueueOf(config.orchestration, config.storage.fqdn) : DEFAULT_TASK_QUEUE);
  const context = createActivityContext(config, nodeLocal ? 'local' : centralNodeMode(config));
  // Before any connection: the SDK's runtime carries the exporter.
  if (o.metricsAddress) serveMetrics(o.metricsAddress);
  const plan = planTemporal(config);
  // Nothing configured: the embedded server of the state directory, kept up while this worker runs
  // (on one box, this is what makes schedules fire). A node's worker needs a shared Temporal cluster.
  if (plan.kind === 'embedded' && nodeLocal) {
    throw new ConfigError('a node-local worker needs a Temporal cluster shared with the central worker: set TEMPORAL_ADDRESS or [temporal] address');
  }
  const embedded = plan.kind === 'embedded' ? await EmbeddedTemporal.acquire(plan.stateDir) : undefined;
  try {
    const target: TemporalTarget = plan.kind === 'cluster' ? plan.target
      : { address: embedded!.address, namespace: plan.namespace, config: { connectionOptions: {} }, configured: false };
    const connection = await connectWorker(target);
    try {
      const worker = await createWorker({ connection, namespace: target.namespace, taskQueue, context, activitiesOnly: nodeLocal });
      const where = embedded ? `the embedded server ${target.address} (state ${embedded.stateDir}; UI ${embedded.uiUrl})` : target.address;
      const nodes = nodeLocal ? 'this node, directly'
        : config.orchestration.nodeAccess === 'worker' ? `through their own workers (${config.orchestration.nodeTaskQueue})`
          : { ssh: `over SSH, running \`${config.orchestration.nodeCommand}\` on each node`, agentless: 'over SSH, files pulled over SFTP (agentless)', local: 'directly' }[context.nodeMode];
      process.stderr.write(`medusa worker: polling task queue ${taskQueue} at ${where} (namespace ${target.namespace}); nodes reached ${nodes}\n`);
      await worker.run();
    } finally {
      await connection.close();
    }
  } finally {
    await embedded?.release();
  }
}

if (require.main === module) {
  runWorker({ configFile: process.env.MEDUSA_CONFIG_FILE ?? '/etc/medusa/medusa.ini', metricsAddress: process.env.MEDUSA_METRICS_ADDRESS }).catch((err: Error) => {
    process.stderr.write(`medusa worker: ${err.message}\n`);
    process.exit(1);
  });
}
