/**
 * Metrics of a node-side step: recorded on the node by a meter that writes each measurement into the
 * conversation, and replayed by the central worker into its activity's own meter, so that
 * `medusa worker --metrics-address` shows the same series whichever side moved the bytes.
 */
import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter, MetricTags, NumericMetricValueType } from '@temporalio/common';
import type { MetricEvent } from './protocol';

/** A MetricMeter whose measurements go to `emit`. */
export function forwardingMeter(emit: (e: MetricEvent) => void, meterTags: MetricTags = {}): MetricMeter {
  const instrument = <K extends MetricEvent['kind']>(kind: K, name: string, valueType: NumericMetricValueType, unit?: string, description?: string, tags: MetricTags = {}) => {
    const record = (value: number, extra?: MetricTags) => emit({ kind, name, unit, description, valueType, value, tags: { ...meterTags, ...tags, ...extra } });
    return { kind, name, unit, description, valueType, record, tags };
  };
  const counter = (name: string, unit?: string, description?: string, tags?: MetricTags): MetricCounter => {
    const i = instrument('counter', name, 'int', unit, description, tags);
    return { ...i, kind: 'counter', valueType: 'int', add: i.record, withTags: (t) => counter(name, unit, description, { ...i.tags, ...t }) };
  };
  const histogram = (name: string, valueType: NumericMetricValueType = 'int', unit?: string, description?: string, tags?: MetricTags): MetricHistogram => {
    const i = instrument('histogram', name, valueType, unit, description, tags);
    return { ...i, kind: 'histogram', record: i.record, withTags: (t) => histogram(name, valueType, unit, description, { ...i.tags, ...t }) };
  };
  const gauge = (name: string, valueType: NumericMetricValueType = 'int', unit?: string, description?: string, tags?: MetricTags): MetricGauge => {
    const i = instrument('gauge', name, valueType, unit, description, tags);
    return { ...i, kind: 'gauge', set: i.record, withTags: (t) => gauge(name, valueType, unit, description, { ...i.tags, ...t }) };
  };
  return {
    createCounter: (name, unit, description) => counter(name, unit, description),
    createHistogram: (name, valueType, unit, description) => histogram(name, valueType, unit, description),
    createGauge: (name, valueType, unit, description) => gauge(name, valueType, unit, description),
    withTags: (tags) => forwardingMeter(emit, { ...meterTags, ...tags }),
  };
}

/** Records a forwarded measurement in `meter` (the central activity's). */
export function replayMetric(meter: MetricMeter, e: MetricEvent): void {
  switch (e.kind) {
    case 'counter':
      meter.createCounter(e.name, e.unit, e.description).add(e.value, e.tags);
      break;
    case 'histogram':
      meter.createHistogram(e.name, e.valueType, e.unit, e.description).record(e.value, e.tags);
      break;
    case 'gauge':
      meter.createGauge(e.name, e.valueType, e.unit, e.description).set(e.value, e.tags);
      break;
    default:
      break; // a kind this worker does not know (a newer node): dropped, never a failed step
  }
}
