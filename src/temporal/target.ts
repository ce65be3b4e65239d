/**
 * Temporal connection settings the way the Temporal tools read them: TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, and TOML profiles (TEMPORAL_PROFILE,
 * TEMPORAL_CONFIG_FILE), through @temporalio/envconfig. Apart from the SDK's client and worker,
 * which take a while to load: a command decides where it runs before it loads them.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';

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
