/**
 * `medusa purge` and `medusa delete-backup`: the `purgeBackups` and `deleteBackup` workflows (every
 * node of the catalogue; see src/workflows/purge.ts), followed to the end and reported as Medusa
 * logs it: the backups purged, node by node, then objects and bytes deleted and objects kept
 * within the grace period. The limits come from this command's medusa.ini [storage].
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { formatBytes } from '../catalogue/index-names';
import { ConfigOverrides, loadMedusaConfig } from '../config/medusa-config';
import { ExitError } from '../errors';
import { backupNameProblem } from '../plan/backup-name';
import { DeleteBackupInput, DeletionResult, PurgeBackupsInput } from '../workflows';
import { failureText } from './backup';
import { pollUntilClosed } from './follow';
import { interruptMode, openCommandSession } from './session';

export interface PurgeCommandOptions {
  configFile: string;
  overrides: ConfigOverrides;
  taskQueue: string;
}

export interface DeleteBackupCommandOptions extends PurgeCommandOptions {
  backupName: string;
  allNodes: boolean;
}

/** One purge at a time per catalogue (bucket and prefix); one deletion per backup name. */
function catalogueId(bucket: string, prefix: string): string {
  return `${bucket}${prefix ? `/${prefix}` : ''}`;
}

/** Medusa's log lines for a finished purge or deletion. */
export function deletionReport(r: DeletionResult, what: 'purge' | 'delete'): string[] {
  const out: string[] = [];
  if (what === 'purge') out.push(`${r.deleted.length} backups are candidate to be purged (of ${r.total} node backups)`);
  for (const d of r.deleted) out.push(`Purging backup ${d.name} from node ${d.fqdn}...`);
  for (const [fqdn, name] of Object.entries(r.latest)) out.push(name ? `latest backup of ${fqdn} is now ${name}` : `latest backup of ${fqdn} removed: no finished backup left`);
  const objects = r.backupObjects + r.poolObjects;
  out.push(`Purged ${objects} objects with a total size of ${formatBytes(r.backupBytes + r.poolBytes)}`
    + ` (backups: ${r.backupObjects} objects, ${formatBytes(r.backupBytes)}; unreferenced pool files: ${r.poolObjects} objects, ${formatBytes(r.poolBytes)})`);
  if (r.keptWithinGrace > 0) out.push(`${r.keptWithinGrace} objects within ${r.graceDays} days grace period were not deleted`);
  return out;
}

async function runDeletion(o: PurgeCommandOptions, workflowType: 'purgeBackups' | 'deleteBackup', workflowId: string, input: PurgeBackupsInput | DeleteBackupInput, what: 'purge' | 'delete', label: string): Promise<void> {
  const config = loadMedusaConfig(o.configFile, o.overrides);
  const session = await openCommandSession(config, o.taskQueue, true);
  try {
    let handle: WorkflowHandle;
    try {
      handle = await session.client.workflow.start(workflowType, { taskQueue: o.taskQueue, workflowId, args: [input] });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (!session.embedded) throw new ExitError(`${label} is already running (workflow ${workflowId})`);
      process.stderr.write(`resuming ${label}, left by an earlier command (workflow ${workflowId})\n`);
      handle = session.client.workflow.getHandle(workflowId);
    }
    process.stderr.write(`${label} started: workflow ${workflowId}\n`);
    let result: DeletionResult;
    try {
      result = await pollUntilClosed<DeletionResult>(handle, async () => undefined, process.stderr, interruptMode(session));
    } catch (err) {
      if (err instanceof WorkflowFailedError) throw new ExitError(failureText(err));
      throw err;
    }
    for (const n of result.notes) process.stderr.write(`${n}\n`);
    process.stdout.write(deletionReport(result, what).map((l) => `${l}\n`).join(''));
  } finally {
    await session.close();
  }
}

export async function purgeCommand(o: PurgeCommandOptions): Promise<void> {
  const s = loadMedusaConfig(o.configFile, o.overrides).storage;
  const input: PurgeBackupsInput = {
    bucketName: s.bucketName, prefix: s.prefix, maxBackupAge: s.maxBackupAge, maxBackupCount: s.maxBackupCount, backupGracePeriodInDays: s.backupGracePeriodInDays,
  };
  await runDeletion(o, 'purgeBackups', `medusa-purge/${catalogueId(s.bucketName, s.prefix)}`, input, 'purge', 'purge');
}

export async function deleteBackupCommand(o: DeleteBackupCommandOptions): Promise<void> {
  const problem = backupNameProblem(o.backupName);
  if (problem) throw new ExitError(problem, 2);
  const s = loadMedusaConfig(o.configFile, o.overrides).storage;
  const input: DeleteBackupInput = {
    backupName: o.backupName, ...(o.allNodes ? { allNodes: true } : { fqdn: s.fqdn }),
    bucketName: s.bucketName, prefix: s.prefix, backupGracePeriodInDays: s.backupGracePeriodInDays,
  };
  const id = `medusa-delete-backup/${catalogueId(s.bucketName, s.prefix)}/${o.backupName}${o.allNodes ? '' : `/${s.fqdn}`}`;
  await runDeletion(o, 'deleteBackup', id, input, 'delete', `delete-backup ${o.backupName}${o.allNodes ? ' (all nodes)' : ` (${s.fqdn})`}`);
}
