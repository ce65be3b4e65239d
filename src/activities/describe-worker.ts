import { activityInfo } from '@temporalio/activity';
import { hostname } from 'node:os';

export interface WorkerDescription {
  /** Host the activity ran on. */
  hostname: string;
  pid: number;
  taskQueue: string;
  /** The product version the worker runs, so mixed versions in a fleet are visible. */
  version: string;
  nodeVersion: string;
}

export function makeDescribeWorker(version: string) {
  return async function describeWorker(): Promise<WorkerDescription> {
    return { hostname: hostname(), pid: process.pid, taskQueue: activityInfo().taskQueue, version, nodeVersion: process.version };
  };
}
