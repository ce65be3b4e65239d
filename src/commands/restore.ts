/**
 * `medusa restore-node` and `medusa restore-cluster`: a backup put back in place, as the
 * `restoreNode` / `restoreCluster` workflows, followed to the end with live progress (the stage,
 * then each node's phase; while a node downloads, its download's files and bytes) and one line for
 * whatever refuses it. Medusa's options are accepted; those this restore cannot honour (another host,
 * sstableloader) are refused with one line, those that change nothing here are ignored.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { CancelledFailure, Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import type { HostMapping } from '../activities/restore/cluster-plan';
import { ConfigOverrides, loadMedusaConfig } from '../config/medusa-config';
import { ExitError } from '../errors';
import { backupNameProblem } from '../plan/backup-name';
import type { TemporalSession } from '../temporal/session';
import {
  downloadNodeProgress, restoreProgress, type NodeRestoreStatus, type restoreCluster, type RestoreClusterInput, type RestoreMode, type restoreNode,
  type RestoreNodeInput, type RestoreProgress, type RestoreResult,
} from '../workflows';
import { failureText } from './backup';
import { downloadState } from './download';
import { humanBytes, pollUntilClosed } from './follow';
import { interruptMode, openCommandSession, openNodeCommandSession } from './session';

/** Options both commands share. */
interface RestoreCommandCommon {
  configFile: string;
  overrides: ConfigOverrides;
  backupName: string;
  tempDir?: string;
  verify: boolean;
  keyspace: string[];
  table: string[];
  online: boolean;
  offline: boolean;
  useSstableloader: boolean;
  versionTarget?: string;
  taskQueue: string;
}

export interface RestoreNodeCommandOptions extends RestoreCommandCommon {
  inPlace?: boolean;
  remote: boolean;
  keepAuth: boolean;
  seeds?: string;
}

export interface RestoreClusterCommandOptions extends RestoreCommandCommon {
  seedTarget?: string;
  hostList?: string;
  keepAuth: boolean;
  bypassChecks: boolean;
  parallelRestores: string;
  ignoreRacks: boolean;
  force: boolean;
}


/** One restore per backup and node: the same command again resumes it (embedded) or is refused while it runs. */
export function restoreNodeWorkflowId(name: string, fqdn: string): string {
  return `medusa-restore/${name}/${fqdn}`;
}

export function restoreClusterWorkflowId(name: string): string {
  return `medusa-restore-cluster/${name}`;
}

/**
 * Medusa's --host-list file: one line per node, `seed,target,source` (seed True or False, any case),
 * blank lines and `#` comments ignored. A bad line ends the command with one line naming file and line.
 */
export function parseHostList(text: string, file: string): HostMapping[] {
  const hosts: HostMapping[] = [];
  const lineOf = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = `${file}:${i + 1}`;
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length !== 3) throw new ExitError(`${at}: expected seed,target,source (e.g. True,node1.example.com,node1.example.com), not ${JSON.stringify(line)}`, 2);
    const [seed, target, source] = fields;
    const s = seed.toLowerCase();
    if (s !== 'true' && s !== 'false') throw new ExitError(`${at}: the seed field must be True or False, not ${JSON.stringify(seed)}`, 2);
    for (const [what, host] of [['target', target], ['source', source]]) {
      if (host === '' || /\s/.test(host)) throw new ExitError(`${at}: the ${what} host must be a host name, not ${JSON.stringify(host)}`, 2);
    }
    const earlier = lineOf.get(target);
    if (earlier !== undefined) throw new ExitError(`${at}: target ${target} is already listed on line ${earlier}`, 2);
    lineOf.set(target, i + 1);
    hosts.push({ seed: s === 'true', target, source });
  });
  if (hosts.length === 0) throw new ExitError(`${file}: no hosts listed (one line per node: seed,target,source)`, 2);
  return hosts;
}

function wholeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new ExitError(`${flag} must be a whole number ≥ 1, not ${value}`, 2);
  return n;
}

/** The checks both commands share; returns the mode asked for (undefined: the workflow's default) and the normalized temp dir. */
function checkCommon(o: RestoreCommandCommon): { mode?: RestoreMode; tempDir?: string } {
  const problem = backupNameProblem(o.backupName);
  if (problem) throw new ExitError(problem, 2);
  if (o.useSstableloader) throw new ExitError('--use-sstableloader is not supported; table restores use nodetool import (--online)', 2);
  if (o.online && o.offline) throw new ExitError('--online and --offline cannot be used together', 2);
  for (const k of o.keyspace) if (k === '' || /[./\s]/.test(k)) throw new ExitError(`--keyspace must be a keyspace name, not ${JSON.stringify(k)}`, 2);
  for (const t of o.table) if (!/^[^.]+\.[^.]+$/.test(t)) throw new ExitError(`--table must be <keyspace>.<table>, not ${t}`, 2);
  let tempDir: string | undefined;
  if (o.tempDir !== undefined) {
    if (!posix.isAbsolute(o.tempDir)) throw new ExitError(`--temp-dir must be an absolute path (a directory on the node), not ${o.tempDir}`, 2);
    tempDir = posix.normalize(o.tempDir).replace(/(.)\/+$/, '$1');
  }
  return { mode: o.online ? 'online' : o.offline ? 'offline' : undefined, tempDir };
}

/** The mode the workflow will pick: as asked, else online with --keyspace/--table and offline without. */
function effectiveMode(o: RestoreCommandCommon, mode: RestoreMode | undefined): RestoreMode {
  return mode ?? (o.keyspace.length > 0 || o.table.length > 0 ? 'online' : 'offline');
}

function counts(nodes: NodeRestoreStatus[]): string {
  const by = new Map<string, number>();
  for (const n of nodes) by.set(n.phase, (by.get(n.phase) ?? 0) + 1);
  return [...by].map(([phase, k]) => `${k} ${phase}`).join(', ');
}

const firstLine = (s: string) => s.split('\n')[0];

/**
 * What the restore commands show while they run: on a TTY a view redrawn in place (the stage, then
 * one line per node: phase, and while downloading the download's files and bytes); otherwise a line
 * per stage change and per node phase change (`127.0.0.2: downloading 3 tables`), with a node's error.
 */
export class RestoreView {
  private drawn = 0;
  private stage = '';
  private readonly seen = new Map<string, string>();

  /** `workflowId`: the restore workflow's id; each node's download is its child `<workflowId>/download/<fqdn>`. */
  constructor(private readonly client: Client, private readonly workflowId: string, private readonly out: NodeJS.WriteStream = process.stderr) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  private download(fqdn: string): WorkflowHandle {
    return this.client.workflow.getHandle(`${this.workflowId}/download/${fqdn}`);
  }

  async update(p: RestoreProgress): Promise<void> {
    if (!this.tty) {
      await this.changes(p);
      return;
    }
    const width = Math.max(20, (this.out.columns ?? 100) - 1);
    const room = Math.max(3, (this.out.rows ?? 40) - 2);
    const nodes = p.nodes.length ? `, ${p.nodes.length} node${p.nodes.length === 1 ? '' : 's'} (${counts(p.nodes)})` : '';
    const lines = [`restore of ${p.backupName} (${p.mode}): ${p.stage}${nodes}`];
    let shown = p.nodes;
    if (shown.length > room) {
      shown = p.nodes.filter((n) => !['waiting', 'done'].includes(n.phase)).slice(0, room - 1);
      lines.push(`  … ${p.nodes.length - shown.length} more nodes not shown`);
    }
    const pad = Math.max(...shown.map((n) => n.fqdn.length), 0);
    for (const n of shown) lines.push(`${n.fqdn.padEnd(pad)}  ${n.phase.padEnd(12)}${await this.detail(n)}`);
    this.erase();
    this.out.write(lines.map((l) => `${l.slice(0, width)}\n`).join(''));
    this.drawn = lines.length;
  }

  /** The end: the live view is erased; without a TTY, the changes not printed yet. */
  async end(p?: RestoreProgress): Promise<void> {
    if (this.tty) this.erase();
    else if (p) await this.changes(p);
  }

  private async changes(p: RestoreProgress): Promise<void> {
    if (p.stage !== this.stage) this.out.write(`restore of ${p.backupName} (${p.mode}): ${p.stage}\n`);
    this.stage = p.stage;
    for (const n of p.nodes) {
      const key = `${n.phase}\n${n.error ?? ''}`;
      if (this.seen.get(n.fqdn) === key) continue;
      const text = await this.phaseText(n);
      if (text === undefined) continue;
      this.out.write(`${n.fqdn}: ${text}\n`);
      this.seen.set(n.fqdn, key);
    }
  }

  /** A node's phase as one line; undefined while a download has no plan yet (printed once it has one, with its table count). */
  private async phaseText(n: NodeRestoreStatus): Promise<string | undefined> {
    if (n.error) return `${n.phase}: ${firstLine(n.error)}`;
    if (n.phase === 'downloaded') return `downloaded ${n.tables ?? 0} tables, ${n.files ?? 0} files, ${humanBytes(n.bytes ?? 0)}`;
    if (n.phase !== 'downloading') return n.phase;
    try {
      const d = await this.download(n.fqdn).query(downloadNodeProgress);
      return d.plan ? `downloading ${d.plan.tables} tables` : undefined;
    } catch {
      return undefined;
    }
  }

  private async detail(n: NodeRestoreStatus): Promise<string> {
    if (n.error) return firstLine(n.error);
    if (n.phase === 'downloading') {
      try {
        return (await downloadState(this.download(n.fqdn))).replace(/^downloading\s*/, '');
      } catch {
        return '';
      }
    }
    if (n.files !== undefined) return `${n.tables ?? 0} tables, ${n.files} files, ${humanBytes(n.bytes ?? 0)}`;
    return '';
  }

  private erase(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }
}

/** Lines for stdout: one per node restored, then the summary. */
export function restoreSummary(r: RestoreResult): string[] {
  const lines = r.nodes.map((n) => `restored ${r.backupName} on ${n.fqdn}${n.source ? ` (from ${n.source})` : ''}: ${n.tables} tables, ${n.files} files, ${humanBytes(n.bytes)} (${humanBytes(n.downloadedBytes)} downloaded)`);
  let summary = `restore of ${r.backupName} done (${r.mode}): ${r.nodes.length} node${r.nodes.length === 1 ? '' : 's'}`;
  if (r.skipped.length) summary += `; skipped: ${r.skipped.join(', ')}`;
  if (r.verified) summary += `; verified: ${r.verified.rows} rows from ${r.verified.query}`;
  lines.push(summary);
  return lines;
}

/** Follows a started restore to its end: live progress on stderr, the summary on stdout, one line for a failure. */
async function followRestore(session: TemporalSession, handle: WorkflowHandle, name: string): Promise<void> {
  const view = new RestoreView(session.client, handle.workflowId);
  let result: RestoreResult;
  try {
    result = await pollUntilClosed<RestoreResult>(handle, async () => view.update(await handle.query(restoreProgress)), process.stderr, interruptMode(session));
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) {
      await view.end();
      throw err;
    }
    // The nodes' last states (each failed node's error), if the workflow still answers.
    const last = await handle.client.connection.withDeadline(Date.now() + 5000, () => handle.query(restoreProgress)).catch(() => undefined);
    await view.end(last);
    if (err.cause instanceof CancelledFailure) throw new ExitError(`restore of ${name} was cancelled`);
    throw new ExitError(`restore of ${name} failed: ${failureText(err)}`);
  }
  await view.end();
  process.stdout.write(restoreSummary(result).map((l) => `${l}\n`).join(''));
}

export async function restoreNodeCommand(o: RestoreNodeCommandOptions): Promise<void> {
  const { mode, tempDir } = checkCommon(o);
  if (o.remote) throw new ExitError('restore-node restores in place; to restore onto other hosts use restore-cluster (--seed-target of the other cluster, or --host-list)', 2);
  // As in Medusa: in place, the restored system_auth replaces the node's own.
  if (o.keepAuth) throw new ExitError('--keep-auth cannot be used with --in-place', 2);
  const config = loadMedusaConfig(o.configFile, o.overrides);
  const fqdn = config.storage.fqdn;
  const name = o.backupName;
  const session = await openNodeCommandSession(config, { ...o, wait: true });
  const input: RestoreNodeInput = {
    backupName: name, fqdn, keyspaces: o.keyspace, tables: o.table, mode, tempDir, verify: o.verify,
    bucketName: o.overrides.bucketName, prefix: o.overrides.prefix, nodeTaskQueue: session.nodeTaskQueue,
  };
  try {
    const workflowId = restoreNodeWorkflowId(name, fqdn);
    let handle: WorkflowHandle<typeof restoreNode>;
    try {
      handle = await session.client.workflow.start<typeof restoreNode>('restoreNode', { taskQueue: o.taskQueue, workflowId, args: [input] });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (!session.embedded) throw new ExitError(`a restore of ${name} on ${fqdn} is already running (workflow ${workflowId})`);
      process.stderr.write(`resuming the restore of ${name} on ${fqdn}, left by an earlier command (workflow ${workflowId})\n`);
      handle = session.client.workflow.getHandle<typeof restoreNode>(workflowId);
    }
    process.stderr.write(`restore of ${name} on ${fqdn} (${effectiveMode(o, mode)}) started: workflow ${workflowId}\n`);
    await followRestore(session, handle, name);
  } finally {
    await session.close();
  }
}

export async function restoreClusterCommand(o: RestoreClusterCommandOptions): Promise<void> {
  const { mode, tempDir } = checkCommon(o);
  if ((o.seedTarget === undefined) === (o.hostList === undefined)) throw new ExitError('give either --seed-target or --host-list (exactly one of them)', 2);
  const parallelRestores = wholeNumber(o.parallelRestores, '--parallel-restores');
  let hostList: HostMapping[] | undefined;
  if (o.hostList !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.hostList, 'utf8');
    } catch (err) {
      throw new ExitError(`cannot read --host-list ${o.hostList}: ${firstLine((err as Error).message)}`, 2);
    }
    hostList = parseHostList(text, o.hostList);
  }
  const config = loadMedusaConfig(o.configFile, o.overrides);
  const name = o.backupName;
  const input: RestoreClusterInput = {
    backupName: name, seedTarget: o.seedTarget, hostList, keyspaces: o.keyspace, tables: o.table, mode, tempDir, verify: o.verify,
    parallelRestores, force: o.force, keepAuth: o.keepAuth, bucketName: o.overrides.bucketName, prefix: o.overrides.prefix,
    nodeWorkers: config.orchestration.nodeAccess === 'worker',
  };
  const session = await openCommandSession(config, o.taskQueue, true);
  try {
    const workflowId = restoreClusterWorkflowId(name);
    let handle: WorkflowHandle<typeof restoreCluster>;
    try {
      handle = await session.client.workflow.start<typeof restoreCluster>('restoreCluster', { taskQueue: o.taskQueue, workflowId, args: [input] });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (!session.embedded) throw new ExitError(`a restore of ${name} is already running (workflow ${workflowId})`);
      process.stderr.write(`resuming the restore of ${name}, left by an earlier command (workflow ${workflowId})\n`);
      handle = session.client.workflow.getHandle<typeof restoreCluster>(workflowId);
    }
    const from = o.seedTarget !== undefined ? `seed ${o.seedTarget}` : `${hostList!.length} hosts from ${o.hostList}`;
    process.stderr.write(`restore of ${name} (${effectiveMode(o, mode)}, ${from}) started: workflow ${workflowId}\n`);
    await followRestore(session, handle, name);
  } finally {
    await session.close();
  }
}
