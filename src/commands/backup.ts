/** `medusa backup` (alias `backup-node`): one node's backup as a Temporal workflow, followed to the end. */
import { CancelledFailure, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ConfigOverrides, loadMedusaConfig } from '../config/medusa-config';
import { ExitError } from '../errors';
import { backupNameProblem, defaultBackupName } from '../plan/backup-name';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import { interruptMode, openNodeCommandSession } from './session';
import type { backupNode, BackupNodeInput, BackupNodeResult } from '../workflows';
import { follow, humanBytes } from './follow';

export interface BackupCommandOptions {
  configFile: string;
  overrides: ConfigOverrides;
  backupName?: string;
  mode: string;
  stagger?: number;
  enableMd5Checks: boolean;
  keepSnapshot: boolean;
  useExistingSnapshot: boolean;
  tempDir?: string;
  wait: boolean;
  taskQueue?: string;
}

export function backupWorkflowId(name: string, fqdn: string): string {
  return `medusa-backup/${name}/${fqdn}`;
}

/** The failure message of a workflow, down to the activity's own words. */
export function failureText(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let text = e?.message ?? String(err);
  while (e?.cause) {
    e = e.cause as typeof e;
    if (e?.message) text = e.message;
  }
  return text.split('\n')[0];
}

export async function backupCommand(o: BackupCommandOptions): Promise<void> {
  if (o.mode !== 'full' && o.mode !== 'differential') throw new ExitError(`--mode must be full or differential, not ${o.mode}`, 2);
  if (o.useExistingSnapshot && !o.backupName) throw new ExitError('--use-existing-snapshot needs --backup-name (the name of the snapshot)', 2);
  const name = o.backupName ?? defaultBackupName(new Date());
  const problem = backupNameProblem(name);
  if (problem) throw new ExitError(problem, 2);
  const config = loadMedusaConfig(o.configFile, o.overrides);
  const taskQueue = o.taskQueue ?? DEFAULT_TASK_QUEUE;
  const session = await openNodeCommandSession(config, { ...o, taskQueue });
  const input: BackupNodeInput = {
    backupName: name, fqdn: config.storage.fqdn, mode: o.mode,
    stagger: o.stagger, enableMd5Checks: o.enableMd5Checks ? true : undefined, keepSnapshot: o.keepSnapshot, useExistingSnapshot: o.useExistingSnapshot,
    tempDir: o.tempDir, bucketName: o.overrides.bucketName, prefix: o.overrides.prefix,
    nodeTaskQueue: session.nodeTaskQueue,
  };
  try {
    const client = session.client;
    const workflowId = backupWorkflowId(name, input.fqdn);
    let handle;
    try {
      handle = await client.workflow.start<typeof backupNode>('backupNode', { taskQueue, workflowId, args: [input] });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (!session.embedded) throw new ExitError(`backup ${name} of ${input.fqdn} is already running (workflow ${workflowId})`);
      // Embedded: the backup an earlier command left (crash, Ctrl-C) is still there; this command's worker goes on with it.
      process.stderr.write(`resuming backup ${name} of ${input.fqdn}, left by an earlier command (workflow ${workflowId})\n`);
      handle = client.workflow.getHandle<typeof backupNode>(workflowId);
    }
    if (!o.wait) {
      process.stdout.write(`${workflowId}\n`);
      return;
    }
    process.stderr.write(`backup ${name} of ${input.fqdn} (${o.mode}) started: workflow ${workflowId}\n`);
    let r: BackupNodeResult;
    try {
      r = await follow<BackupNodeResult>(handle, `${input.fqdn}`, process.stderr, interruptMode(session));
    } catch (err) {
      if (err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure) throw new ExitError(`backup ${name} of ${input.fqdn} was cancelled`);
      if (err instanceof WorkflowFailedError) throw new ExitError(`backup ${name} of ${input.fqdn} failed: ${failureText(err)}`);
      throw err;
    }
    process.stdout.write(`backup ${r.backupName} of ${r.fqdn} finished (${r.mode}): ${r.files} files, ${humanBytes(r.bytes)}; `
      + `uploaded ${r.uploadedFiles} files (${humanBytes(r.uploadedBytes)}), kept ${r.keptFiles} from earlier backups (${humanBytes(r.keptBytes)})`
      + `${r.alreadyPresentFiles ? `, ${r.alreadyPresentFiles} already sent by an interrupted attempt` : ''}; `
      + `snapshot ${r.snapshotCleared ? 'cleared' : 'kept'}\n`);
  } finally {
    await session.close();
  }
}
