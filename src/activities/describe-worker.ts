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

/** The tool that runs a node's steps, as seen on that node. */
export interface NodeToolDescription {
  hostname: string;
  version: string;
  nodeVersion: string;
}

/** A node-side step that does nothing but answer: run on the node before a backup writes anything, it proves the node's tool is there and of this version. */
export function makeCheckNodeTool(version: string) {
  return async function checkNodeTool(_r: { fqdn: string }): Promise<NodeToolDescription> {
    return { hostname: hostname(), version, nodeVersion: process.version };
  };
}
