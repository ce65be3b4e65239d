/**
 * Which backups are being written right now, as Temporal knows it: every running `backupNode`
 * workflow (its name and node) and every running `backupCluster` (its name, on every node), read
 * from their start input, into this catalogue (bucket and prefix; unset ones mean the worker's).
 * Purge never deletes these, nor cleans the pool of their nodes: a running differential backup
 * may reuse any pool object, including ones that no manifest names yet.
 */
import { Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import type { RunningBackup } from '../../catalogue/purge-plan';
import { ActivityContext } from '../context';

interface BackupInputFields {
  backupName?: string;
  fqdn?: string;
  bucketName?: string;
  prefix?: string;
}

export async function runningBackups(ctx: ActivityContext, bucket: string, prefix: string): Promise<RunningBackup[]> {
  const client = Context.current().client;
  const out: RunningBackup[] = [];
  const query = "ExecutionStatus = 'Running' AND (WorkflowType = 'backupNode' OR WorkflowType = 'backupCluster')";
  for await (const w of client.workflow.list({ query })) {
    let input: BackupInputFields = {};
    try {
      const history = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      if (payload) input = (defaultPayloadConverter.fromPayload(payload) ?? {}) as BackupInputFields;
    } catch {
      // Closed meanwhile, or unreadable: counted as running into this catalogue, under its search attribute name.
    }
    if ((input.bucketName ?? ctx.config.storage.bucketName) !== bucket || (input.prefix ?? ctx.config.storage.prefix) !== prefix) continue;
    const attr = w.searchAttributes?.MedusaBackupName;
    const name = input.backupName ?? (Array.isArray(attr) ? String(attr[0]) : undefined);
    // A cluster backup started from a name template has no name in its input: every name is protected on every node.
    out.push({ name: name ?? '*', fqdn: w.type === 'backupNode' && input.fqdn ? input.fqdn : '*', workflowId: w.workflowId });
  }
  return out;
}
