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
import { makeCheckNodeTool, makeDescribeWorker } from './describe-worker';
import { keptAlive } from './step-context';
import { runOnNode } from '../agent/remote';

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
  return { get config() { return fail(); }, get nodeMode() { return fail(); }, storage: fail, openNode: fail, openSshNode: fail };
}

/**
 * The steps that read or write a node's files in bulk — inventory and hashing, upload, manifest
 * from the plan, download planning and download — with the node each one works on. With
 * `node_access = ssh` the central worker runs them on that node (`medusa node-agent`, src/agent/),
 * so the bytes go between the node and storage; every other step stays where it is scheduled.
 */
const NODE_SIDE_STEPS = {
  checkNodeTool: { label: "check the node's tool", node: (r: { fqdn: string }) => r.fqdn },
  planBackup: { label: 'plan uploads', node: (r: { fqdn: string }) => r.fqdn },
  uploadFiles: { label: 'upload', node: (r: { fqdn: string }) => r.fqdn },
  finishBackup: { label: 'write manifest', node: (r: { fqdn: string }) => r.fqdn },
  planDownload: { label: 'plan download', node: (r: { fqdn: string; targetFqdn?: string }) => r.targetFqdn ?? r.fqdn },
  downloadFiles: { label: 'download', node: (r: { fqdn: string }) => r.fqdn },
};

export type NodeSideStep = keyof typeof NODE_SIDE_STEPS;

export function isNodeSideStep(name: string): name is NodeSideStep {
  return Object.prototype.hasOwnProperty.call(NODE_SIDE_STEPS, name);
}

/**
 * The first step of a node backup that writes to storage (meta files, index "started"). Over SSH it first
 * checks the node's tool, so that a node without it, or with another version, fails before anything is written.
 */
const FIRST_WRITE = { name: 'writeBackupStart', label: 'write meta files' };

export function createActivities(deps: ActivityDeps) {
  const ctx = deps.context ?? missingContext();
  const activities = {
    describeWorker: makeDescribeWorker(deps.version),
    checkNodeTool: makeCheckNodeTool(deps.version),
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
  const onNodes = deps.context?.nodeMode === 'ssh';
  for (const name of Object.keys(activities) as (keyof typeof activities)[]) {
    const own = activities[name] as (input: never) => Promise<unknown>;
    const where = isNodeSideStep(name) ? NODE_SIDE_STEPS[name] : undefined;
    let run = onNodes && where ? (input: never) => runOnNode(ctx, deps.version, { fqdn: where.node(input), step: name, label: where.label, input }) : own;
    if (onNodes && name === FIRST_WRITE.name) {
      run = async (input: never) => {
        const fqdn = (input as { fqdn: string }).fqdn;
        await runOnNode(ctx, deps.version, { fqdn, step: 'checkNodeTool', label: FIRST_WRITE.label, input: { fqdn } });
        return own(input);
      };
    }
    // Every step heartbeats at least every 10 s: a minute's heartbeat timeout catches a dead worker on any of them.
    (activities as Record<string, unknown>)[name] = keptAlive(run);
  }
  return activities;
}

export type Activities = ReturnType<typeof createActivities>;
export type { WorkerDescription } from './describe-worker';
