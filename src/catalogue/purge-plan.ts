/**
 * Which node backups `purge` and `delete-backup` delete, and which pool objects go: Medusa's rules
 * (reference/medusa.md §5) applied to every node of the catalogue, plus the protections Medusa lacks.
 * Pure code, so the rules are unit-tested without storage.
 *
 *  - purge: per node, backups started more than `maxBackupAge` days ago (if > 0), united with the
 *    oldest beyond the newest `maxBackupCount` (if > 0); incomplete backups included, as in Medusa.
 *  - A backup that may be running is never deleted and does not count towards `maxBackupCount`:
 *    one a running Temporal workflow is writing (see running-backups.ts), or one without a finish
 *    that started within the grace period (a backup Temporal does not know of, e.g. Python Medusa's).
 *  - A leftover of an interrupted deletion (marked `meta/deleting`, see delete-node-backups.ts) is
 *    always deleted unless a workflow writes it, so a re-run finishes what a killed run started.
 *  - Pool objects: kept when a remaining manifest names them, or when younger than the grace period.
 */

export interface NodeBackupFacts {
  name: string;
  fqdn: string;
  /** Epoch seconds; undefined only for leftovers. */
  started?: number;
  finished: number | null;
  /** What an interrupted deletion left (see delete-node-backups.ts). */
  leftover?: boolean;
}

export interface PurgeLimits {
  /** Days; 0 = no age limit. */
  maxBackupAge: number;
  /** Backups kept per node; 0 = no count limit. */
  maxBackupCount: number;
  /** backup_grace_period_in_days. */
  graceDays: number;
}

/** A backup that a running workflow writes: `fqdn` '*' for a cluster backup (every node), `name` '*' when unknown. */
export interface RunningBackup {
  name: string;
  fqdn: string;
  workflowId: string;
}

export interface Protected {
  backup: NodeBackupFacts;
  reason: string;
}

export interface Selection {
  deletions: NodeBackupFacts[];
  protectedBackups: Protected[];
}

const DAY = 86_400;

const byStart = (a: NodeBackupFacts, b: NodeBackupFacts) => (a.started ?? 0) - (b.started ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Why this backup may be running, or undefined. */
export function runningReason(b: NodeBackupFacts, running: RunningBackup[], graceDays: number, nowSeconds: number): string | undefined {
  const w = running.find((r) => (r.name === b.name || r.name === '*') && (r.fqdn === b.fqdn || r.fqdn === '*'));
  if (w) return `running (workflow ${w.workflowId})`;
  if (b.leftover) return undefined;
  if (b.finished === null && b.started !== undefined && b.started > nowSeconds - graceDays * DAY) {
    return `unfinished and started within the grace period of ${graceDays} days: it may still be running`;
  }
  return undefined;
}

/** purge: the node backups to delete, over every node of the catalogue. */
export function selectForPurge(backups: NodeBackupFacts[], limits: PurgeLimits, nowSeconds: number, running: RunningBackup[]): Selection {
  const deletions: NodeBackupFacts[] = [];
  const protectedBackups: Protected[] = [];
  const fqdns = [...new Set(backups.map((b) => b.fqdn))].sort();
  for (const fqdn of fqdns) {
    const mine = backups.filter((b) => b.fqdn === fqdn).sort(byStart);
    const settled: NodeBackupFacts[] = [];
    for (const b of mine) {
      const why = runningReason(b, running, limits.graceDays, nowSeconds);
      if (b.leftover && !why) {
        deletions.push(b);
        continue;
      }
      if (why) {
        const aged = limits.maxBackupAge > 0 && (b.started ?? 0) < nowSeconds - limits.maxBackupAge * DAY;
        if (aged || limits.maxBackupCount > 0) protectedBackups.push({ backup: b, reason: why });
        continue;
      }
      settled.push(b);
    }
    const chosen = new Set<NodeBackupFacts>();
    if (limits.maxBackupAge > 0) for (const b of settled) if ((b.started ?? 0) < nowSeconds - limits.maxBackupAge * DAY) chosen.add(b);
    if (limits.maxBackupCount > 0) for (const b of settled.slice(0, Math.max(0, settled.length - limits.maxBackupCount))) chosen.add(b);
    deletions.push(...settled.filter((b) => chosen.has(b)));
  }
  return { deletions, protectedBackups };
}

/**
 * delete-backup: the node backups of exactly `name` — of node `fqdn`, or of every node with
 * `allNodes`. A one-line error when there is none, or when one may be running.
 */
export function selectByName(backups: NodeBackupFacts[], name: string, fqdn: string | undefined, running: RunningBackup[], graceDays: number, nowSeconds: number): NodeBackupFacts[] {
  const named = backups.filter((b) => b.name === name);
  if (!named.length) throw new Error(`no backup named ${name}`);
  const chosen = named.filter((b) => fqdn === undefined || b.fqdn === fqdn).sort((a, b) => (a.fqdn < b.fqdn ? -1 : 1));
  if (!chosen.length) throw new Error(`backup ${name} has no node backup of ${fqdn} (it has ${named.map((b) => b.fqdn).sort().join(', ')}; --all-nodes deletes all of them)`);
  for (const b of chosen) {
    const why = runningReason(b, running, graceDays, nowSeconds);
    if (why) throw new Error(`backup ${name} of ${b.fqdn} is not deleted: ${why}`);
  }
  return chosen;
}

export type PoolVerdict = 'referenced' | 'withinGrace' | 'delete';

/** One object of a node's pool: kept while a remaining manifest names it or while younger than the grace period. */
export function poolVerdict(o: { key: string; lastModified: Date }, referenced: ReadonlySet<string>, graceDays: number, nowMs: number): PoolVerdict {
  if (referenced.has(o.key)) return 'referenced';
  if (o.lastModified.getTime() > nowMs - graceDays * DAY * 1000) return 'withinGrace';
  return 'delete';
}

/** Whether a running backup writes to this node (then its pool is not cleaned). */
export function nodeIsBusy(fqdn: string, running: RunningBackup[]): RunningBackup | undefined {
  return running.find((r) => r.fqdn === fqdn || r.fqdn === '*');
}
