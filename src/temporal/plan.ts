/**
 * Which Temporal a command uses. A configured cluster — TEMPORAL_ADDRESS or a profile (read by
 * @temporalio/envconfig), else `[temporal] address` of medusa.ini — is used as is; with nothing
 * configured, the embedded server of the state directory. Pure apart from reading profile files.
 */
import type { MedusaConfig } from '../config/medusa-config';
import { temporalTarget, TemporalTarget } from './connection';
import { defaultStateDir } from './embedded';

export type TemporalPlan =
  | { kind: 'cluster'; target: TemporalTarget }
  | { kind: 'embedded'; stateDir: string; namespace: string };

/** Pure: which Temporal a command uses, from the environment (via envconfig) and medusa.ini. */
export function planTemporal(config: Pick<MedusaConfig, 'temporal'> | undefined, env: NodeJS.ProcessEnv = process.env): TemporalPlan {
  const fromEnv = temporalTarget(env);
  if (fromEnv.configured) return { kind: 'cluster', target: fromEnv };
  const t = config?.temporal;
  if (t?.address) {
    return { kind: 'cluster', target: { ...fromEnv, address: t.address, namespace: env.TEMPORAL_NAMESPACE || t.namespace || 'default', configured: true } };
  }
  return { kind: 'embedded', stateDir: t?.stateDir ?? defaultStateDir(env), namespace: 'default' };
}
