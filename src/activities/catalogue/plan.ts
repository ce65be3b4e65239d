/**
 * The first step of purge and delete-backup, on the central worker: read the whole catalogue, find
 * the backups being written (Temporal and the catalogue), choose the node backups to delete, and
 * read every manifest the pool cleanup will rely on. Nothing is deleted when any of that fails: a
 * corrupt or missing manifest of a remaining backup is one line naming it. The plan names backups
 * only (names and nodes), never object keys: the deleting steps list storage themselves.
 */
import { ApplicationFailure } from '@temporalio/common';
import { nodeIsBusy, PurgeLimits, selectByName, selectForPurge } from '../../catalogue/purge-plan';
import { ActivityContext } from '../context';
import { catalogueFailure, readFacts, referencedPaths } from './facts';
import { runningBackups } from './running-backups';

export interface CatalogueRef {
  bucketName?: string;
  prefix?: string;
}

export interface PlanDeletionRequest extends CatalogueRef {
  /** purge: Medusa's limits (absent ones from the worker's [storage]). */
  purge?: Partial<Omit<PurgeLimits, 'graceDays'>>;
  /** delete-backup: exactly this name, of `fqdn` (default: the worker's [storage] fqdn) or of every node with `allNodes`. */
  backupName?: string;
  fqdn?: string;
  allNodes?: boolean;
  graceDays?: number;
}

export interface NodeDeletion {
  fqdn: string;
  /** Oldest first. */
  names: string[];
}

export interface DeletionPlan {
  bucketName: string;
  prefix: string;
  graceDays: number;
  /** Node backups to delete, grouped by node. */
  nodes: NodeDeletion[];
  /** Nodes whose pool is cleaned afterwards. */
  poolNodes: string[];
  /** Backups the limits chose but that may be running, and nodes whose pool is left alone: one line each. */
  notes: string[];
  /** Node backups in the catalogue. */
  total: number;
}

export function makePlanDeletionActivities(ctx: ActivityContext) {
  return {
    async planDeletion(r: PlanDeletionRequest): Promise<DeletionPlan> {
      const bucketName = r.bucketName ?? ctx.config.storage.bucketName;
      const prefix = r.prefix ?? ctx.config.storage.prefix;
      const graceDays = r.graceDays ?? ctx.config.storage.backupGracePeriodInDays;
      const storage = ctx.storage(bucketName);
      try {
        await storage.check();
        const running = await runningBackups(ctx, bucketName, prefix);
        const { facts } = await readFacts(storage, prefix);
        const now = Math.floor(Date.now() / 1000);
        const notes: string[] = [];
        let chosen;
        if (r.backupName !== undefined) {
          try {
            chosen = selectByName(facts, r.backupName, r.allNodes ? undefined : (r.fqdn ?? ctx.config.storage.fqdn), running, graceDays, now);
          } catch (err) {
            throw ApplicationFailure.nonRetryable(`${(err as Error).message} in ${storage.description}${prefix ? ` (prefix ${prefix})` : ''}`, 'BackupNotDeleted');
          }
        } else {
          const limits: PurgeLimits = {
            maxBackupAge: r.purge?.maxBackupAge ?? ctx.config.storage.maxBackupAge,
            maxBackupCount: r.purge?.maxBackupCount ?? ctx.config.storage.maxBackupCount,
            graceDays,
          };
          const s = selectForPurge(facts, limits, now, running);
          chosen = s.deletions;
          for (const p of s.protectedBackups) notes.push(`backup ${p.backup.name} of ${p.backup.fqdn} is kept: ${p.reason}`);
        }
        const deleting = new Set(chosen.map((f) => `${f.fqdn}\n${f.name}`));
        // purge cleans every node's pool (Medusa: only the local one); delete-backup the pools of the nodes it deleted from.
        const candidates = r.backupName !== undefined ? [...new Set(chosen.map((f) => f.fqdn))] : [...new Set(facts.map((f) => f.fqdn))];
        const poolNodes: string[] = [];
        for (const fqdn of candidates.sort()) {
          const busy = nodeIsBusy(fqdn, running);
          if (busy) notes.push(`the pool of ${fqdn} is not cleaned: a backup is being written to it (workflow ${busy.workflowId})`);
          else poolNodes.push(fqdn);
        }
        // Every manifest the pool cleanup will keep objects for must be readable, before anything is deleted.
        await referencedPaths(facts.filter((f) => poolNodes.includes(f.fqdn) && !deleting.has(`${f.fqdn}\n${f.name}`) && !f.leftover));
        const nodes = [...new Set(chosen.map((f) => f.fqdn))].sort().map((fqdn) => ({
          fqdn, names: chosen.filter((f) => f.fqdn === fqdn).sort((a, b) => (a.started ?? 0) - (b.started ?? 0)).map((f) => f.name),
        }));
        return { bucketName, prefix, graceDays, nodes, poolNodes, notes, total: facts.length };
      } catch (err) {
        throw catalogueFailure(err);
      }
    },
  };
}
