/**
 * What `medusa backup-cluster` shows: on a TTY a live view redrawn in place (a header, then one line
 * per node: phase, and for uploading nodes the node backup's own phase, files and bytes); otherwise
 * one line `<fqdn>: <phase>` per phase change. At the end, a summary per node and a total.
 */
import { Client } from '@temporalio/client';
import type { ClusterProgress, NodeStatus } from '../workflows';
import { humanBytes, nodeBackupState } from './follow';

const ACTIVE = new Set(['snapshotting', 'uploading', 'failed', 'dropped']);

function counts(nodes: NodeStatus[]): string {
  const by = new Map<string, number>();
  for (const n of nodes) by.set(n.phase, (by.get(n.phase) ?? 0) + 1);
  return [...by].map(([phase, k]) => `${k} ${phase}`).join(', ');
}

export function resultText(r: NonNullable<NodeStatus['result']>): string {
  return `${r.files} files, ${humanBytes(r.bytes)}; uploaded ${r.uploadedFiles} files (${humanBytes(r.uploadedBytes)}), `
    + `kept ${r.keptFiles} from earlier backups (${humanBytes(r.keptBytes)})`;
}

export class ClusterView {
  private drawn = 0;
  private readonly seen = new Map<string, string>();

  /** `parentId`: the cluster workflow's id; each node's child workflow is `<parentId>/<fqdn>`. */
  constructor(private readonly client: Client, private readonly parentId: string, private readonly out: NodeJS.WriteStream = process.stderr) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  async update(p: ClusterProgress): Promise<void> {
    if (!this.tty) {
      this.phaseChanges(p);
      return;
    }
    const width = Math.max(20, (this.out.columns ?? 100) - 1);
    const room = Math.max(3, (this.out.rows ?? 40) - 2);
    let shown = p.nodes;
    const nodes = p.nodes.length ? `, ${p.nodes.length} nodes (${counts(p.nodes)})` : '';
    const lines = [`backup-cluster ${p.backupName}: ${p.stage}${nodes}, parallel uploads ${p.parallelUploads}`];
    if (shown.length > room) {
      shown = p.nodes.filter((n) => ACTIVE.has(n.phase)).slice(0, room - 1);
      lines.push(`  … ${p.nodes.length - shown.length} more nodes not shown`);
    }
    const pad = Math.max(...shown.map((n) => n.fqdn.length), 0);
    for (const n of shown) lines.push(`${n.fqdn.padEnd(pad)}  ${n.phase.padEnd(12)}${await this.detail(p.backupName, n)}`);
    this.erase();
    this.out.write(lines.map((l) => `${l.slice(0, width)}\n`).join(''));
    this.drawn = lines.length;
  }

  /** The end: the live view is erased; without a TTY, the phase changes not printed yet. */
  end(p?: ClusterProgress): void {
    if (this.tty) this.erase();
    else if (p) this.phaseChanges(p);
  }

  private phaseChanges(p: ClusterProgress): void {
    for (const n of p.nodes) {
      if (this.seen.get(n.fqdn) !== n.phase) this.out.write(`${n.fqdn}: ${n.phase}\n`);
      this.seen.set(n.fqdn, n.phase);
    }
  }

  private erase(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private async detail(_backupName: string, n: NodeStatus): Promise<string> {
    if (n.phase === 'finished' && n.result) return `${n.result.files} files, ${humanBytes(n.result.bytes)}`;
    if (n.error) return n.error.split('\n')[0];
    if (n.phase !== 'uploading') return '';
    try {
      const s = await nodeBackupState(this.client.workflow.getHandle(`${this.parentId}/${n.fqdn}`));
      return s.phase === 'uploading' ? s.detail.trimStart() : s.phase;
    } catch {
      return '';
    }
  }
}

/** Lines for stdout: one per node, then the total. */
export function clusterSummary(p: ClusterProgress, mode: string): string[] {
  const lines = p.nodes.map((n) => `${n.fqdn}: ${n.phase}${n.result ? `: ${resultText(n.result)}` : ''}`);
  const done = p.nodes.filter((n) => n.phase === 'finished');
  const sum = (k: keyof NonNullable<NodeStatus['result']>) => done.reduce((a, n) => a + (n.result?.[k] ?? 0), 0);
  const total = { files: sum('files'), bytes: sum('bytes'), uploadedFiles: sum('uploadedFiles'), uploadedBytes: sum('uploadedBytes'), keptFiles: sum('keptFiles'), keptBytes: sum('keptBytes') };
  const outcome = done.length === p.nodes.length ? 'finished' : 'incomplete';
  lines.push(`backup-cluster ${p.backupName} ${outcome} (${mode}): ${done.length} of ${p.nodes.length} nodes finished; ${resultText(total)}`);
  return lines;
}
