/**
 * Temporal connection settings the way the Temporal tools read them: TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, and TOML profiles (TEMPORAL_PROFILE,
 * TEMPORAL_CONFIG_FILE), through @temporalio/envconfig.
 */
import { Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';

export interface TemporalTarget {
  address: string;
  namespace: string;
  config: ReturnType<typeof loadClientConnectConfig>;
  /** An address came from the environment or a profile (otherwise: 127.0.0.1:7233, or embedded mode). */
  configured: boolean;
}

export function temporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const config = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  return {
    address: config.connectionOptions.address || '127.0.0.1:7233',
    namespace: config.namespace ?? 'default',
    config,
    configured: Boolean(config.connectionOptions.address),
  };
}

/** One line naming the address when the server does not answer. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
}

function unreachable(address: string, err: unknown): TemporalUnreachableError {
  return new TemporalUnreachableError(`Temporal at ${address} does not answer (${(err as Error).message.split('\n')[0]})`);
}

export async function connectClient(t: TemporalTarget = temporalTarget()): Promise<Connection> {
  try {
    return await Connection.connect({ ...t.config.connectionOptions, address: t.address, connectTimeout: 5000 });
  } catch (err) {
    throw unreachable(t.address, err);
  }
}

export async function connectWorker(t: TemporalTarget = temporalTarget()): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect({ ...t.config.connectionOptions, address: t.address });
  } catch (err) {
    throw unreachable(t.address, err);
  }
}
