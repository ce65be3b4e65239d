/**
 * `medusa purge` and `medusa delete-backup` as workflows over every node of the catalogue: one plan
 * step reads the catalogue and every manifest it relies on (and deletes nothing if it cannot),
 * then one deleting step per node (all nodes at once), then one pool cleanup per node. Each step
 * heartbeats and resumes after a worker dies; the order inside the steps keeps the catalogue
 * honest and lets a new run finish an interrupted one (src/activities/catalogue/). Deterministic:
 * the workflow passes names and counts only, never object lists.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities, RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CleanPoolResult, DeleteNodeBackupsResult, DeletionPlan, PlanDeletionRequest } from '../activities/catalogue';
import { PERMANENT_ERROR_TYPES } from '../shared/error-types';

interface CommonInput {
  bucketName?: string;
  prefix?: string;
  /** backup_grace_period_in_days; default: the worker's [storage]. */
  backupGracePeriodInDays?: number;
  /** Objects deleted between two heartbeats (default 200). */
  batchSize?: number;
}

/** Input of {@link purgeBackups}: every field defaults to the worker's medusa.ini [storage]. */
export interface PurgeBackupsInput extends CommonInput {
  maxBackupAge?: number;
  maxBackupCount?: number;
}

/** Input of {@link deleteBackup}: the backup of node `fqdn` (default: the worker's [storage] fqdn), or of every node with `allNodes`. */
export interface DeleteBackupInput extends CommonInput {
  backupName: string;
  fqdn?: string;
  allNodes?: boolean;
}

export interface DeletionResult {
  /** Node backups in the catalogue before. */
  total: number;
  deleted: { name: string; fqdn: string }[];
  /** Objects and bytes of the deleted backups (meta, index, a full backup's data). */
  backupObjects: number;
  backupBytes: number;
  /** Unreferenced pool objects deleted. */
  poolObjects: number;
  poolBytes: number;
  /** Unreferenced pool objects younger than the grace period, kept. */
  keptWithinGrace: number;
  graceDays: number;
  /** latest_backup/<fqdn> moved: fqdn → new name ('' removed). */
  latest: Record<string, string>;
  notes: string[];
}

const CATALOGUE_ERRORS = [...PERMANENT_ERROR_TYPES, 'CatalogueError', 'BackupNotDeleted'];
const retry: RetryPolicy = { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 10, nonRetryableErrorTypes: CATALOGUE_ERRORS };
const planning = proxyActivities<Activities>({ startToCloseTimeout: '30 minutes', retry: { ...retry, maximumAttempts: 5 } });
const deleting = proxyActivities<Activities>({ startToCloseTimeout: '1 day', heartbeatTimeout: '1 minute', retry });

/** The activity's own one line (a corrupt manifest, an unknown name) instead of "Activity task failed". */
function reported(err: unknown): unknown {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    return ApplicationFailure.create({ message: err.cause.message, type: err.cause.type ?? 'PurgeFailed', nonRetryable: true });
  }
  return err;
}

function nonNegative(n: number | undefined, what: string): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw ApplicationFailure.nonRetryable(`${what} must be a whole number ≥ 0, not ${String(n)}`, 'BadInput');
}

async function run(request: PlanDeletionRequest, batchSize: number | undefined): Promise<DeletionResult> {
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw ApplicationFailure.nonRetryable(`batchSize must be a whole number ≥ 1, not ${String(batchSize)}`, 'BadInput');
  try {
    const plan: DeletionPlan = await planning.planDeletion(request);
    const where = { bucketName: plan.bucketName, prefix: plan.prefix };
    const deleted: DeleteNodeBackupsResult[] = await Promise.all(plan.nodes.map((n) => deleting.deleteNodeBackups({ ...where, fqdn: n.fqdn, names: n.names, batchSize })));
    const pools: CleanPoolResult[] = await Promise.all(plan.poolNodes.map((fqdn) => deleting.cleanPool({ ...where, fqdn, graceDays: plan.graceDays, batchSize })));
    const latest: Record<string, string> = {};
    for (const d of deleted) if (d.latest !== undefined) latest[d.fqdn] = d.latest;
    return {
      total: plan.total,
      deleted: deleted.flatMap((d) => d.backups.map((name) => ({ name, fqdn: d.fqdn }))),
      backupObjects: deleted.reduce((a, d) => a + d.objects, 0), backupBytes: deleted.reduce((a, d) => a + d.bytes, 0),
      poolObjects: pools.reduce((a, p) => a + p.objects, 0), poolBytes: pools.reduce((a, p) => a + p.bytes, 0),
      keptWithinGrace: pools.reduce((a, p) => a + p.keptWithinGrace, 0), graceDays: plan.graceDays, latest,
      notes: [...plan.notes, ...pools.filter((p) => p.skipped).map((p) => `the pool of ${p.fqdn} is not cleaned: ${p.skipped}`)],
    };
  } catch (err) {
    throw reported(err);
  }
}

export async function purgeBackups(input: PurgeBackupsInput = {}): Promise<DeletionResult> {
  nonNegative(input.maxBackupAge, 'maxBackupAge');
  nonNegative(input.maxBackupCount, 'maxBackupCount');
  nonNegative(input.backupGracePeriodInDays, 'backupGracePeriodInDays');
  return run({
    bucketName: input.bucketName, prefix: input.prefix, graceDays: input.backupGracePeriodInDays,
    purge: { maxBackupAge: input.maxBackupAge, maxBackupCount: input.maxBackupCount },
  }, input.batchSize);
}

export async function deleteBackup(input: DeleteBackupInput): Promise<DeletionResult> {
  if (!input?.backupName) throw ApplicationFailure.nonRetryable('backupName is required', 'BadInput');
  nonNegative(input.backupGracePeriodInDays, 'backupGracePeriodInDays');
  return run({
    bucketName: input.bucketName, prefix: input.prefix, graceDays: input.backupGracePeriodInDays,
    backupName: input.backupName, fqdn: input.fqdn, allNodes: input.allNodes,
  }, input.batchSize);
}
