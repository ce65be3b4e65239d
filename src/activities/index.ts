/**
 * The activity factory: every activity the workflows may schedule, built once per worker with its
 * dependencies injected (storage, node access and secrets come from the worker's configuration,
 * never from workflow inputs).
 */
import { makeFinishActivities } from './backup/finish';
import { makePlanActivities } from './backup/plan';
import { makeSnapshotActivities } from './backup/snapshot';
import { makeStaggerActivities } from './backup/stagger';
import { makeStartActivities } from './backup/start';
import { makeUploadActivities } from './backup/upload';
import { makeDiscoverActivities } from './cluster/discover';
import { makeLockActivities } from './cluster/lock';
import { makeCatalogueActivities } from './catalogue';
import { makeDownloadActivities } from './restore/download';
import { makeDownloadPlanActivities } from './restore/plan';
import { makeClusterRestorePlanActivities } from './restore/cluster-plan';
import { makeNodeRestoreActivities } from './restore/node-restore';
import { ConfigError } from '../config/medusa-config';
import { ActivityContext } from './context';
import { makeDescribeWorker } from './describe-worker';

export interface ActivityDeps {
  version: string;
  /** Absent on a worker that only answers check-worker (no medusa.ini). */
  context?: ActivityContext;
}

/** A context for a worker without configuration: any backup activity fails with one clear line. */
function missingContext(): ActivityContext {
  const fail = (): never => {
    throw new ConfigError('this worker has no medusa.ini configuration (start it with --config-file or MEDUSA_CONFIG_FILE)');
  };
  return { get config() { return fail(); }, get nodeMode() { return fail(); }, storage: fail, openNode: fail };
}

export function createActivities(deps: ActivityDeps) {
  const ctx = deps.context ?? missingContext();
  return {
    describeWorker: makeDescribeWorker(deps.version),
    ...makeStartActivities(ctx),
    ...makeStaggerActivities(ctx),
    ...makeSnapshotActivities(ctx),
    ...makePlanActivities(ctx),
    ...makeUploadActivities(ctx),
    ...makeFinishActivities(ctx),
    ...makeDiscoverActivities(ctx),
    ...makeLockActivities(),
    ...makeCatalogueActivities(ctx),
    ...makeDownloadPlanActivities(ctx),
    ...makeDownloadActivities(ctx),
    ...makeNodeRestoreActivities(ctx),
    ...makeClusterRestorePlanActivities(ctx),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { WorkerDescription } from './describe-worker';
