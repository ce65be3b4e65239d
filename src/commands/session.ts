/** The Temporal session of a command that runs a backup: a configured cluster, or embedded with its own worker. */
import type { MedusaConfig } from '../config/medusa-config';
import { ExitError } from '../errors';
import { openSession, planTemporal, TemporalSession } from '../temporal/session';
import type { InterruptMode } from './follow';

export async function openCommandSession(config: MedusaConfig, taskQueue: string, wait: boolean): Promise<TemporalSession> {
  if (!wait && planTemporal(config).kind === 'embedded') {
    throw new ExitError('--no-wait needs a Temporal cluster with a worker (TEMPORAL_ADDRESS or [temporal] address): embedded, the command itself is the worker', 2);
  }
  return openSession({ config, taskQueue, worker: true, log: (line) => process.stderr.write(`${line}\n`) });
}

export const interruptMode = (s: TemporalSession): InterruptMode => (s.embedded ? 'pause' : 'cancel');
