/** The Temporal session of a command that runs a backup: a configured cluster, or embedded with its own worker. */
import { ConfigOverrides, loadMedusaConfig, MedusaConfig, nodeTaskQueueOf } from '../config/medusa-config';
import { ExitError } from '../errors';
import { systemHostNames, thisHost } from '../nodes/host-names';
import { isThisHost } from '../plan/node-name';
import { openSession, planTemporal, TemporalSession } from '../temporal/session';
import type { InterruptMode } from './follow';

export interface SessionOptions {
  /** Extra worker on this queue, reaching this machine's files (embedded, acting on this node). */
  localNodeQueue?: string;
}

export async function openCommandSession(config: MedusaConfig, taskQueue: string, wait: boolean, o: SessionOptions = {}): Promise<TemporalSession> {
  if (!wait && planTemporal(config).kind === 'embedded') {
    throw new ExitError('--no-wait needs a Temporal cluster with a worker (TEMPORAL_ADDRESS or [temporal] address): embedded, the command itself is the worker', 2);
  }
  return openSession({ config, taskQueue, worker: true, localNodeQueue: o.localNodeQueue, log: (line) => process.stderr.write(`${line}\n`) });
}

export interface NodeCommandSession extends TemporalSession {
  /** The queue the workflow sends its node steps to (`nodeTaskQueue` of its input); undefined: the central worker. */
  nodeTaskQueue?: string;
}

/**
 * The session of a command that acts on one node (backup, download, restore-node), and where that node's
 * steps run. With a Temporal cluster: as `[orchestration] node_access` says (a worker on the node, or the
 * central worker over SSH). Embedded — `medusa backup` from cron on a Cassandra node — on this host itself:
 * an in-process worker on the node's queue reads its files directly, no SSH involved. Embedded for another
 * host (`--fqdn` naming a node that is not this one): over SSH, which then has to be configured.
 */
export async function openNodeCommandSession(config: MedusaConfig, o: { configFile: string; overrides: ConfigOverrides; taskQueue: string; wait: boolean }): Promise<NodeCommandSession> {
  const fqdn = config.storage.fqdn;
  const nodeQueue = nodeTaskQueueOf(config.orchestration, fqdn);
  if (planTemporal(config).kind === 'cluster') {
    const session = await openCommandSession(config, o.taskQueue, o.wait);
    return { ...session, nodeTaskQueue: config.orchestration.nodeAccess === 'worker' ? nodeQueue : undefined };
  }
  // Without --fqdn the node is this host's Medusa name, by definition; a --fqdn may name this host or another.
  const ownName = o.overrides.fqdn === undefined ? fqdn : loadMedusaConfig(o.configFile, { ...o.overrides, fqdn: undefined }).storage.fqdn;
  if (o.overrides.fqdn === undefined || isThisHost(fqdn, thisHost(ownName), (n) => systemHostNames.resolveName(n))) {
    const session = await openCommandSession(config, o.taskQueue, o.wait, { localNodeQueue: nodeQueue });
    return { ...session, nodeTaskQueue: nodeQueue };
  }
  if (!config.ssh.keyFile) {
    throw new ExitError(`--fqdn ${fqdn} is not this host (${ownName}) and ${config.file} has no [ssh] key_file to reach it: run the command on ${fqdn}, or configure [ssh]`, 2);
  }
  return openCommandSession(config, o.taskQueue, o.wait);
}

export const interruptMode = (s: TemporalSession): InterruptMode => (s.embedded ? 'pause' : 'cancel');
