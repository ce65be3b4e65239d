/**
 * The backup metrics as the activities record them (src/activities/metrics.ts), through the SDK's
 * activity context with a recording meter: names, values, tags; failed attempts counted, cancelled
 * ones (a workflow's cancel, a worker's own shutdown) not; nothing recorded and nothing thrown
 * without a meter or outside an activity.
 */
import { MetricCounter, MetricGauge, MetricHistogram, MetricMeter, MetricTags } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { backupFinished, filesSkipped, fileUploaded, METRICS } from '../../src/activities/metrics';
import { classify } from '../../src/activities/failures';

interface Point { name: string; kind: string; value: number; tags: MetricTags }

/** A MetricMeter that writes down every value it is given. */
function recordingMeter(points: Point[], base: MetricTags = {}): MetricMeter {
  const metric = <K extends 'counter' | 'histogram' | 'gauge'>(kind: K, name: string, unit = '', description = '', tags: MetricTags = base) => {
    const record = (value: number, extra: MetricTags = {}) => { points.push({ name, kind, value, tags: { ...tags, ...extra } }); };
    return {
      name, unit, description, kind, valueType: 'int' as const,
      add: record, record, set: record,
      withTags: (t: MetricTags) => metric(kind, name, unit, description, { ...tags, ...t }),
    };
  };
  return {
    createCounter: (name, unit, description) => metric('counter', name, unit, description) as unknown as MetricCounter,
    createHistogram: (name, _type, unit, description) => metric('histogram', name, unit, description) as unknown as MetricHistogram,
    createGauge: (name, _type, unit, description) => metric('gauge', name, unit, description) as unknown as MetricGauge,
    withTags: (t) => recordingMeter(points, { ...base, ...t }),
  };
}

/** Failing on purpose: the SDK's WARN line for each failed activity would only be noise. */
const logger = new DefaultLogger('ERROR');
const ref = { fqdn: '10.0.0.5', mode: 'differential' as const };
// What the SDK adds from the activity's info (MockActivityEnvironment's defaults).
const activityTags = { namespace: 'test', taskQueue: 'test', activityType: 'unknown' };

test('uploads, skips and a finished backup are recorded with the node, the mode and the activity\'s tags', async () => {
  const points: Point[] = [];
  const env = new MockActivityEnvironment(undefined, { metricMeter: recordingMeter(points), logger });
  await env.run(async () => {
    fileUploaded(ref, 1000);
    filesSkipped(ref, 'already_present', 1, 300);
    backupFinished(ref, {
      files: [{ action: 'keep', size: 40 }, { action: 'keep', size: 2 }, { action: 'upload', size: 1000 }],
      started: new Date(1_700_000_000_900), finishedEpoch: 1_700_000_100,
    });
  });
  const node = { ...activityTags, fqdn: '10.0.0.5', mode: 'differential' };
  expect(points).toEqual([
    { name: METRICS.uploadedBytes, kind: 'counter', value: 1000, tags: node },
    { name: METRICS.uploadedFiles, kind: 'counter', value: 1, tags: node },
    { name: METRICS.skippedBytes, kind: 'counter', value: 300, tags: { ...node, reason: 'already_present' } },
    { name: METRICS.skippedFiles, kind: 'counter', value: 1, tags: { ...node, reason: 'already_present' } },
    { name: METRICS.skippedBytes, kind: 'counter', value: 42, tags: { ...node, reason: 'deduplicated' } },
    { name: METRICS.skippedFiles, kind: 'counter', value: 2, tags: { ...node, reason: 'deduplicated' } },
    // Whole seconds, as in the index entries: started at 1_700_000_000 (floor), finished at 1_700_000_100.
    { name: METRICS.duration, kind: 'histogram', value: 100, tags: node },
    { name: METRICS.lastSuccess, kind: 'gauge', value: 1_700_000_100, tags: node },
  ]);
});

test('a failed attempt counts as an error with node, step and type; a cancelled one does not', async () => {
  const points: Point[] = [];
  const env = new MockActivityEnvironment(undefined, { metricMeter: recordingMeter(points), logger });
  const failing = () => classify('10.0.0.5', 'upload', async () => {
    throw Object.assign(new Error('connection reset'), { name: 'ECONNRESET' });
  });
  await expect(env.run(failing)).rejects.toThrow('10.0.0.5: upload: connection reset');
  expect(points).toEqual([{ name: METRICS.errors, kind: 'counter', value: 1, tags: { ...activityTags, fqdn: '10.0.0.5', step: 'upload', type: 'ECONNRESET' } }]);

  env.cancel('WORKER_SHUTDOWN');
  await expect(env.run(failing)).rejects.toThrow();
  expect(points).toHaveLength(1);
});

test('without a metrics exporter (the SDK\'s no-op meter) or outside an activity, recording does nothing and never throws', async () => {
  await new MockActivityEnvironment(undefined, { logger }).run(async () => {
    fileUploaded(ref, 1);
    backupFinished(ref, { files: [], finishedEpoch: 1 });
  });
  expect(() => fileUploaded(ref, 1)).not.toThrow();
  await expect(classify('10.0.0.5', 'plan uploads', async () => { throw new Error('x'); })).rejects.toThrow('10.0.0.5: plan uploads: x');
});
