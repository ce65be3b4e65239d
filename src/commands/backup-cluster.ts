/**
 * `medusa backup-cluster`: every node of the cluster as one Temporal workflow (`backupCluster`), with
 * Medusa's options, followed to the end: per-node progress while it runs, a summary per node and a
 * total, exit 0 only when every node finished.
 */
import { statSync } from 'node:fs';
import { ApplicationFailure, CancelledFailure, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ConfigOverrides, loadMedusaConfig } from '../config/medusa-config';
import { ExitError } from '../errors';
import { backupNameProblem } from '../plan/backup-name';
import { backupCluster, BackupClusterInput, BackupClusterResult, clusterProgress, ClusterProgress } from '../workflows';
import { failureText } from './backup';
import { clusterSummary, ClusterView } from './cluster-view';
import { pollUntilClosed } from './follow';
import { interruptMode, openCommandSession } from './session';

export interface BackupClusterCommandOptions {
  configFile: string;
  overrides: ConfigOverrides;
  backupName: string;
  seedTarget?: string;
  stagger?: string;
  enableMd5Checks: boolean;
  mode: string;
  tempDir: string;
  parallelSnapshots: string;
  parallelUploads: string;
  keepSnapshot: boolean;
  useExistingSnapshot: boolean;
  wait: boolean;
  taskQueue: string;
  nodeWorkers: boolean;
}

export function clusterWorkflowId(name: string): string {
  return `medusa-backup-cluster/${name}`;
}

function wholeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new ExitError(`${flag} must be a whole number ≥ 1, not ${value}`, 2);
  return n;
}

/** The progress a BackupIncomplete failure carries, if that is what ended the workflow. */
function incompleteProgress(err: WorkflowFailedError): ClusterProgress | undefined {
  const c = err.cause;
  return c instanceof ApplicationFailure && c.type === 'BackupIncomplete' ? (c.details?.[0] as ClusterProgress | undefined) : undefined;
}

export async function backupClusterCommand(o: BackupClusterCommandOptions): Promise<void> {
  if (o.mode !== 'full' && o.mode !== 'differential') throw new ExitError(`--mode must be full or differential, not ${o.mode}`, 2);
  const problem = backupNameProblem(o.backupName);
  if (problem) throw new ExitError(problem, 2);
  const stagger = o.stagger === undefined ? undefined : wholeNumber(o.stagger, '--stagger');
  const parallelSnapshots = wholeNumber(o.parallelSnapshots, '--parallel-snapshots');
  const parallelUploads = wholeNumber(o.parallelUploads, '--parallel-uploads');
  // As in Medusa: the temp dir must exist on the machine that orchestrates (here, the one running the CLI).
  if (!statSync(o.tempDir, { throwIfNoEntry: false })?.isDirectory()) throw new ExitError(`--temp-dir ${o.tempDir} is not an existing directory on this machine`, 2);
  const config = loadMedusaConfig(o.configFile, o.overrides);
  const name = o.backupName;
  const input: BackupClusterInput = {
    backupName: name, seedTarget: o.seedTarget ?? config.storage.fqdn, mode: o.mode, stagger,
    enableMd5Checks: o.enableMd5Checks ? true : undefined, keepSnapshot: o.keepSnapshot, useExistingSnapshot: o.useExistingSnapshot,
    tempDir: o.tempDir, parallelSnapshots, parallelUploads, bucketName: o.overrides.bucketName, prefix: o.overrides.prefix,
    nodeWorkers: o.nodeWorkers ? true : undefined,
  };
  const session = await openCommandSession(config, o.taskQueue, o.wait);
  try {
    const client = session.client;
    const workflowId = clusterWorkflowId(name);
    let handle;
    try {
      handle = await client.workflow.start<typeof backupCluster>('backupCluster', { taskQueue: o.taskQueue, workflowId, args: [input] });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (!session.embedded) throw new ExitError(`backup-cluster ${name} is already running (workflow ${workflowId})`);
      // Embedded: the backup an earlier command left (crash, Ctrl-C) is still there; this command's worker goes on with it.
      process.stderr.write(`resuming backup-cluster ${name}, left by an earlier command (workflow ${workflowId})\n`);
      handle = client.workflow.getHandle<typeof backupCluster>(workflowId);
    }
    if (!o.wait) {
      process.stdout.write(`${workflowId}\n`);
      return;
    }
    process.stderr.write(`backup-cluster ${name} (${o.mode}, seed ${input.seedTarget}) started: workflow ${workflowId}\n`);
    const view = new ClusterView(client, workflowId);
    let result: BackupClusterResult;
    try {
      result = await pollUntilClosed<BackupClusterResult>(handle, async () => view.update(await handle.query(clusterProgress)), process.stderr, interruptMode(session));
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      const p = incompleteProgress(err);
      view.end(p);
      if (err.cause instanceof CancelledFailure) throw new ExitError(`backup-cluster ${name} was cancelled`);
      // Another backup of this cluster holds the lock: its own words name the running workflow.
      if (err.cause instanceof ApplicationFailure && err.cause.type === 'ClusterBusy') throw new ExitError(err.cause.message);
      if (!p) throw new ExitError(`backup-cluster ${name} failed: ${failureText(err)}`);
      process.stdout.write(clusterSummary(p, o.mode).map((l) => `${l}\n`).join(''));
      const lines = p.nodes.filter((n) => n.phase !== 'finished').map((n) => `${n.fqdn}: ${(n.error ?? n.phase).split('\n')[0]}`);
      if (p.cleanupFailed.length) lines.push(`snapshot medusa-${name} not cleared on ${p.cleanupFailed.join(', ')}: clear it by hand`);
      throw new ExitError(lines.length ? lines.join('\n') : `backup-cluster ${name} failed: ${failureText(err)}`);
    }
    view.end(result);
    process.stdout.write(clusterSummary(result, o.mode).map((l) => `${l}\n`).join(''));
  } finally {
    await session.close();
  }
}
