/**
 * Reading a Prometheus endpoint the way Prometheus does: fetch /metrics and parse the text format
 * with a real parser (prom2javascript: it keeps each labelled histogram apart and refuses a line or
 * a histogram it cannot read), then look series up by name and labels.
 */
import { getMetricsFromIterator, PromData, PromHistogramData, PromMetrics } from 'prom2javascript';

export interface Scrape {
  text: string;
  metrics: PromMetrics;
}

export async function scrape(address: string): Promise<Scrape> {
  const res = await fetch(`http://${address}/metrics`);
  if (!res.ok) throw new Error(`http://${address}/metrics answered ${res.status}`);
  const text = await res.text();
  return { text, metrics: await getMetricsFromIterator(text.split('\n')[Symbol.iterator]()) };
}

const matching = <T extends { labels: Record<string, string> }>(data: T[], labels: Record<string, string>) =>
  data.filter((d) => Object.entries(labels).every(([k, v]) => d.labels[k] === v));

/** The series of a counter or gauge whose labels include `labels` (none when the metric is absent). */
export function series(s: Scrape, name: string, labels: Record<string, string> = {}): PromData[] {
  const m = s.metrics[name];
  if (m && m.type !== 'counter' && m.type !== 'gauge') throw new Error(`${name} is a ${m.type}, not a counter or gauge`);
  return matching((m?.data ?? []) as PromData[], labels);
}

/** The sum of the matching series of a counter or gauge (0 when none match). */
export function total(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return series(s, name, labels).reduce((a, d) => a + d.value, 0);
}

/** The matching series of a histogram. */
export function histograms(s: Scrape, name: string, labels: Record<string, string> = {}): PromHistogramData[] {
  const m = s.metrics[name];
  if (m && m.type !== 'histogram') throw new Error(`${name} is a ${m.type}, not a histogram`);
  return matching((m?.data ?? []) as PromHistogramData[], labels);
}
