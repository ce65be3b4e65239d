/**
 * The activity factory: every activity the workflows may schedule, built once per worker with its
 * dependencies injected (storage, node access and secrets come from the worker's configuration,
 * never from workflow inputs).
 */
import { makeDescribeWorker } from './describe-worker';

export interface ActivityDeps {
  version: string;
}

export function createActivities(deps: ActivityDeps) {
  return {
    describeWorker: makeDescribeWorker(deps.version),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { WorkerDescription } from './describe-worker';
