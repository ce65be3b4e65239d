/**
 * Backup metrics, one function per event, recorded by the activities (I/O side: workflows never
 * touch metrics) through the Temporal SDK's activity metric meter. `medusa worker --metrics-address`
 * serves them on the same Prometheus endpoint as the SDK's own metrics (src/worker-metrics.ts);
 * without a metrics exporter, or outside an activity, the meter does nothing, so activities run
 * unchanged in tests. The names below are the names a scrape shows: the SDK's `temporal_` prefix
 * and unit suffixes apply to its own metrics only. Besides the tags given here, every series
 * carries the activity meter's `namespace`, `taskQueue` and `activityType`.
 */
import { ApplicationFailure, MetricMeter } from '@temporalio/common';
import type { BackupMode } from '../plan/layout';
import { step } from './step-context';

export const METRICS = {
  /** Counter, tags fqdn, mode: bytes of files this worker sent to storage in full. */
  uploadedBytes: 'medusa_backup_uploaded_bytes_total',
  /** Counter, tags fqdn, mode: files this worker sent to storage in full. */
  uploadedFiles: 'medusa_backup_uploaded_files_total',
  /** Counter, tags fqdn, mode, reason (deduplicated | already_present): bytes not sent. */
  skippedBytes: 'medusa_backup_skipped_bytes_total',
  /** Counter, same tags: files not sent. */
  skippedFiles: 'medusa_backup_skipped_files_total',
  /** Counter, tags fqdn, step, type: failed attempts of backup activities (cancellations and a worker's own shutdown excluded). */
  errors: 'medusa_backup_errors_total',
  /** Histogram, tags fqdn, mode: seconds from the index "started" to the "finished" entry of a node backup. */
  duration: 'medusa_backup_duration_seconds',
  /** Gauge, tags fqdn, mode: unix time of the "finished" entry of the node's last successful backup on this worker. */
  lastSuccess: 'medusa_backup_last_success_timestamp_seconds',
} as const;

/** Buckets of {@link METRICS.duration}, in seconds: ten seconds to two days. */
export const DURATION_BUCKETS = [10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800];

/** Why a planned file was not sent: kept from an earlier backup, or sent by an earlier attempt of this one. */
export type SkipReason = 'deduplicated' | 'already_present';

interface NodeRef {
  fqdn: string;
  mode: BackupMode;
}

const meter = (): MetricMeter => step().metricMeter;

/** A file was sent to storage in full. */
export function fileUploaded(r: NodeRef, bytes: number): void {
  const m = meter();
  const tags = { fqdn: r.fqdn, mode: r.mode };
  m.createCounter(METRICS.uploadedBytes, 'By', 'Bytes of backup files sent to storage in full').add(bytes, tags);
  m.createCounter(METRICS.uploadedFiles, '', 'Backup files sent to storage in full').add(1, tags);
}

/** Files that were not sent, and why. */
export function filesSkipped(r: NodeRef, reason: SkipReason, files: number, bytes: number): void {
  const m = meter();
  const tags = { fqdn: r.fqdn, mode: r.mode, reason };
  m.createCounter(METRICS.skippedBytes, 'By', 'Bytes of backup files not sent: kept from earlier backups (deduplicated) or complete from an earlier attempt (already_present)').add(bytes, tags);
  m.createCounter(METRICS.skippedFiles, '', 'Backup files not sent: kept from earlier backups (deduplicated) or complete from an earlier attempt (already_present)').add(files, tags);
}

/**
 * A node backup finished (manifest and index "finished" entries written): its kept files count as
 * deduplicated, its duration and finish time are recorded. `started` dates the index "started" entry.
 */
export function backupFinished(r: NodeRef, b: { files: { action: string; size: number }[]; started?: Date; finishedEpoch: number }): void {
  const kept = b.files.filter((f) => f.action === 'keep');
  filesSkipped(r, 'deduplicated', kept.length, kept.reduce((a, f) => a + f.size, 0));
  const m = meter();
  const tags = { fqdn: r.fqdn, mode: r.mode };
  if (b.started) {
    m.createHistogram(METRICS.duration, 'float', 's', 'Duration of node backups, from the index "started" to the "finished" entry')
      .record(Math.max(0, b.finishedEpoch - Math.floor(b.started.getTime() / 1000)), tags);
  }
  m.createGauge(METRICS.lastSuccess, 'float', 's', 'Unix time of the last successful backup of the node on this worker').set(b.finishedEpoch, tags);
}

/** A backup activity failed (counted unless the activity was cancelled: by the workflow or by this worker shutting down). */
export function activityFailed(fqdn: string, stepName: string, err: unknown): void {
  const ctx = step();
  if (ctx.signal.aborted) return;
  const type = err instanceof ApplicationFailure ? err.type ?? 'Error' : (err as Error)?.name || 'Error';
  ctx.metricMeter.createCounter(METRICS.errors, '', 'Failed attempts of backup activities').add(1, { fqdn, step: stepName, type });
}
