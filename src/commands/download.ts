/**
 * `medusa download`: this node's backup (or `--fqdn`'s) into a directory on that node, as the
 * `downloadNode` workflow, followed to the end with live progress (files and bytes from the
 * download's heartbeat) and one line for whatever refuses it (unknown or unfinished backup, a
 * path that would escape the destination, too little space).
 */
import { CancelledFailure, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { posix } from 'node:path';
import type { DownloadProgress } from '../activities/restore/types';
import { ConfigOverrides, loadMedusaConfig } from '../config/medusa-config';
import { ExitError } from '../errors';
import { backupNameProblem } from '../plan/backup-name';
import { downloadNodeProgress, type downloadNode, type DownloadNodeInput, type DownloadNodeResult } from '../workflows';
import { failureText } from './backup';
import { humanBytes, pollUntilClosed } from './follow';
import { interruptMode, openNodeCommandSession } from './session';

export interface DownloadCommandOptions {
  configFile: string;
  overrides: ConfigOverrides;
  backupName: string;
  downloadDestination: string;
  keyspace: string[];
  table: string[];
  ignoreSystemKeyspaces: boolean;
  tempDir?: string;
  taskQueue: string;
}

/** One download per backup, node and destination: the same command again resumes it (embedded) or is refused while it runs. */
export function downloadWorkflowId(name: string, fqdn: string, destination: string): string {
  return `medusa-download/${name}/${fqdn}${destination}`;
}

async function heartbeatProgress(handle: WorkflowHandle): Promise<DownloadProgress | undefined> {
  const desc = await handle.describe();
  for (const a of desc.raw.pendingActivities ?? []) {
    const p = a.heartbeatDetails?.payloads?.[0];
    if (p) return defaultPayloadConverter.fromPayload<DownloadProgress>(p);
  }
  return undefined;
}

/** `phase  files done/total  bytes done/total` of a running download. */
export async function downloadState(handle: WorkflowHandle): Promise<string> {
  const p = await handle.query(downloadNodeProgress);
  if (p.phase !== 'downloading') return p.phase;
  const h = await heartbeatProgress(handle);
  if (h) return `downloading  ${h.filesDone}/${h.filesTotal} files  ${humanBytes(h.bytesDone)}/${humanBytes(h.bytesTotal)}`;
  return p.plan ? `downloading  0/${p.plan.files} files  0 B/${humanBytes(p.plan.bytes)}` : 'downloading';
}

export async function downloadCommand(o: DownloadCommandOptions): Promise<void> {
  const problem = backupNameProblem(o.backupName);
  if (problem) throw new ExitError(problem, 2);
  if (!posix.isAbsolute(o.downloadDestination)) {
    throw new ExitError(`--download-destination must be an absolute path (a directory on the node), not ${o.downloadDestination}`, 2);
  }
  for (const t of o.table) if (!/^[^.]+\.[^.]+$/.test(t)) throw new ExitError(`--table must be <keyspace>.<table>, not ${t}`, 2);
  const config = loadMedusaConfig(o.configFile, o.overrides);
  const fqdn = config.storage.fqdn;
  const destination = posix.normalize(o.downloadDestination).replace(/(.)\/+$/, '$1');
  const session = await openNodeCommandSession(config, { ...o, wait: true });
  const input: DownloadNodeInput = {
    backupName: o.backupName, fqdn, destination, keyspaces: o.keyspace, tables: o.table, ignoreSystemKeyspaces: o.ignoreSystemKeyspaces,
    tempDir: o.tempDir, bucketName: o.overrides.bucketName, prefix: o.overrides.prefix,
    nodeTaskQueue: session.nodeTaskQueue,
  };
  try {
    const workflowId = downloadWorkflowId(o.backupName, fqdn, destination);
    let handle: WorkflowHandle<typeof downloadNode>;
    try {
      handle = await session.client.workflow.start<typeof downloadNode>('downloadNode', { taskQueue: o.taskQueue, workflowId, args: [input] });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (!session.embedded) throw new ExitError(`a download of ${o.backupName} of ${fqdn} into ${destination} is already running (workflow ${workflowId})`);
      process.stderr.write(`resuming the download of ${o.backupName} of ${fqdn} into ${destination}, left by an earlier command (workflow ${workflowId})\n`);
      handle = session.client.workflow.getHandle<typeof downloadNode>(workflowId);
    }
    process.stderr.write(`download of ${o.backupName} of ${fqdn} into ${destination} started: workflow ${workflowId}\n`);
    const out = process.stderr;
    const tty = out.isTTY === true;
    let last = '';
    let r: DownloadNodeResult;
    try {
      r = await pollUntilClosed<DownloadNodeResult>(handle, async () => {
        const line = `${fqdn}: ${await downloadState(handle)}`;
        if (tty) out.write(`\r\x1b[K${line}`);
        else if (line.split('  ')[0] !== last.split('  ')[0]) out.write(`${line}\n`);
        last = line;
      }, out, interruptMode(session));
    } catch (err) {
      if (err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure) throw new ExitError(`download of ${o.backupName} of ${fqdn} was cancelled`);
      if (err instanceof WorkflowFailedError) throw new ExitError(`download of ${o.backupName} of ${fqdn} failed: ${failureText(err)}`);
      throw err;
    } finally {
      if (tty) out.write('\r\x1b[K');
    }
    process.stdout.write(`downloaded ${r.backupName} of ${r.fqdn} into ${r.destination}: ${r.tables} tables, ${r.files} files, ${humanBytes(r.bytes)}; `
      + `${r.downloadedFiles} files downloaded (${humanBytes(r.downloadedBytes)})`
      + `${r.alreadyPresentFiles ? `, ${r.alreadyPresentFiles} already there (${humanBytes(r.alreadyPresentBytes)})` : ''}; `
      + `${r.md5CheckedFiles} checked by MD5, the rest by size\n`);
  } finally {
    await session.close();
  }
}
