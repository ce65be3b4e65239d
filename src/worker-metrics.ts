/**
 * The Prometheus endpoint of `medusa worker --metrics-address` (or MEDUSA_METRICS_ADDRESS): the
 * Temporal SDK's own exporter, installed before the worker connects, so the SDK's metrics
 * (`temporal_…`) and the backup metrics the activities record (`medusa_backup_…`,
 * src/activities/metrics.ts) are served together at http://<address>/metrics.
 */
import { isIP } from 'node:net';
import { Runtime } from '@temporalio/worker';
import { DURATION_BUCKETS, METRICS } from './activities/metrics';
import { ExitError } from './errors';

/** `ip:port` or `[ipv6]:port`, as the SDK's exporter binds it (no host names); usage error otherwise. */
export function parseMetricsAddress(address: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  const ok = host !== undefined && isIP(host) === (m?.[1] ? 6 : 4) && port >= 1 && port <= 65535;
  if (!ok) throw new ExitError(`--metrics-address must be <ip>:<port> (e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464), not ${address}`, 2);
  return address;
}

/** Installs the SDK runtime with the Prometheus exporter on `address`; must run before any Temporal connection. */
export function serveMetrics(address: string): void {
  const bindAddress = parseMetricsAddress(address);
  try {
    Runtime.install({
      telemetryOptions: { metrics: { prometheus: { bindAddress, histogramBucketOverrides: { [METRICS.duration]: DURATION_BUCKETS } } } },
    });
  } catch (err) {
    throw new ExitError(`cannot serve metrics on ${bindAddress}: ${(err as Error).message.replace(/^Failed to start prometheus metrics exporter: /, '')}`);
  }
}
