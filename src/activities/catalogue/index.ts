/** The activities of purge and delete-backup: plan on the whole catalogue, delete per node, clean each node's pool. */
import { ActivityContext } from '../context';
import { makeCleanPoolActivities } from './clean-pool';
import { makeDeleteNodeBackupsActivities } from './delete-node-backups';
import { makePlanDeletionActivities } from './plan';

export function makeCatalogueActivities(ctx: ActivityContext) {
  return { ...makePlanDeletionActivities(ctx), ...makeDeleteNodeBackupsActivities(ctx), ...makeCleanPoolActivities(ctx) };
}
export type { CleanPoolResult } from './clean-pool';
export type { DeleteNodeBackupsResult } from './delete-node-backups';
export type { DeletionPlan, PlanDeletionRequest } from './plan';
