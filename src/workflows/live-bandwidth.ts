/**
 * The transfer bandwidth limit of a running backup or download: an operator sets it with the update
 * setTransferMaxBandwidth (from the Temporal UI or `temporal workflow update`), in Medusa's syntax
 * (`20MB/s`, or bytes per second; 0 = unlimited); a cluster backup passes it on to its node workflows by
 * signal; the transfer activities ask for it by query and apply it from their next chunk on.
 */
import { ApplicationFailure, defineQuery, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';
import { parseSize } from '../config/sizes';
import { SET_TRANSFER_BANDWIDTH_UPDATE, TRANSFER_BANDWIDTH_QUERY, TRANSFER_BANDWIDTH_SIGNAL } from '../shared/live-settings';

/** Bytes per second (0 = unlimited), or null while the worker's `transfer_max_bandwidth` applies. */
export const transferMaxBandwidth = defineQuery<number | null>(TRANSFER_BANDWIDTH_QUERY);
/** Sets the limit (`"20MB/s"` or bytes per second); returns the one it replaces (null: the worker's). */
export const setTransferMaxBandwidth = defineUpdate<number | null, [string | number]>(SET_TRANSFER_BANDWIDTH_UPDATE);
export const transferMaxBandwidthChanged = defineSignal<[number]>(TRANSFER_BANDWIDTH_SIGNAL);

/** A bandwidth limit as an input or update gives it, in bytes per second; a one-line error for anything else. */
export function bandwidthOf(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`transfer_max_bandwidth = ${value} is not a size (like 50MB/s, or bytes per second)`);
    return Math.floor(value);
  }
  return parseSize(String(value), 'transfer_max_bandwidth');
}

/**
 * Installs the query, update and signal on this workflow, starting from `initial` (an input, or undefined
 * for the worker's). `onChange` hears each new value (a cluster backup passes it to its running nodes).
 */
export function followBandwidth(initial: string | number | undefined, onChange: (bps: number) => void = () => undefined): { current(): number | null } {
  let bps: number | null = null;
  try {
    if (initial !== undefined) bps = bandwidthOf(initial);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, 'BadInput');
  }
  setHandler(transferMaxBandwidth, () => bps);
  setHandler(setTransferMaxBandwidth, (v) => {
    const old = bps;
    bps = bandwidthOf(v);
    onChange(bps);
    return old;
  }, { validator: (v) => void bandwidthOf(v) });
  setHandler(transferMaxBandwidthChanged, (v) => {
    bps = v;
    onChange(v);
  });
  return { current: () => bps };
}
