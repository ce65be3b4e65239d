/**
 * A new `transfer_max_bandwidth` for a running backup or download: the workflow holds it (its update
 * setTransferMaxBandwidth) and answers it to the query below; a transfer step asks every few seconds and
 * applies a change to its own limiter from the next chunk on. Over SSH the central worker asks and passes
 * the value down the channel to the node-side process (src/agent/).
 */
import { QueryNotRegisteredError } from '@temporalio/client';
import type { Context } from '@temporalio/activity';
import { createAdjustableLimiter, AdjustableLimiter } from '../storage/bandwidth-limiter';
import { TRANSFER_BANDWIDTH_QUERY } from '../shared/live-settings';
import type { StorageConfig } from '../config/medusa-config';
import type { ActivityContext } from './context';
import { step } from './step-context';

/** The steps that move bytes, and so follow the limit (the others do not ask: a query costs the workflow's worker a task). */
export const TRANSFER_STEPS: ReadonlySet<string> = new Set(['uploadFiles', 'downloadFiles']);

/** How often a running transfer asks its workflow for the bandwidth limit. */
export const BANDWIDTH_POLL_MS = 3_000;

/** Polls the workflow of the activity in `c` for its bandwidth limit; `apply` gets each value that differs from the last. */
export function watchWorkflowBandwidth(c: Context, apply: (bytesPerSecond: number) => void, everyMs = BANDWIDTH_POLL_MS): () => void {
  let client;
  try {
    client = c.client;
  } catch {
    return () => undefined; // no client (a test's mock environment): nothing to follow
  }
  const execution = c.info.workflowExecution;
  if (!execution) return () => undefined; // an activity started on its own, outside any workflow
  const handle = client.workflow.getHandle(execution.workflowId, execution.runId);
  let last: number | undefined;
  let busy = false;
  const ask = async () => {
    if (busy) return;
    busy = true;
    try {
      const v = await handle.query<number | null>(TRANSFER_BANDWIDTH_QUERY);
      if (typeof v === 'number' && v !== last) {
        last = v;
        apply(v);
      }
    } catch (err) {
      // A workflow without the setting (another workflow running this step) never will have it.
      if (err instanceof QueryNotRegisteredError) clearInterval(timer);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void ask(), everyMs);
  timer.unref();
  void ask();
  return () => clearInterval(timer);
}

/**
 * The limiter a transfer step's files share: the worker's `transfer_max_bandwidth` until the running workflow
 * sets another. `stop()` ends the following.
 */
export function stepLimiter(ctx: ActivityContext): { limiter: AdjustableLimiter; stop: () => void } {
  const limiter = createAdjustableLimiter(ctx.config.storage.transferMaxBandwidth);
  const stop = step().watchBandwidth((bps) => limiter.setRate(bps));
  return { limiter, stop };
}

/** How many listeners a transfer step's abort signal may have at once: each file in flight, each of its parts or ranges, and a margin. */
export function transferListeners(c: Pick<StorageConfig, 'concurrentTransfers' | 'multipartMaxConcurrency'>): number {
  return Math.max(10, 2 * Math.max(1, c.concurrentTransfers) * (Math.max(1, c.multipartMaxConcurrency) + 2));
}
