/**
 * What an activity body needs from whatever runs it: a cancellation signal, a heartbeat for its
 * progress and a metric meter. In a Temporal worker that is the activity's own Context; on a node,
 * where `medusa node-agent` runs a step for a central worker over SSH, it is the agent, which sends
 * heartbeats and metrics back over the channel (src/agent/). Activities ask `step()` instead of
 * `@temporalio/activity` directly, so the same code runs in both places.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Context } from '@temporalio/activity';
import { MetricMeter, noopMetricMeter } from '@temporalio/common';
import { watchWorkflowBandwidth } from './live-bandwidth';

export interface StepContext {
  readonly signal: AbortSignal;
  /** Reports liveness and progress (the CLI and the UI read the details). */
  heartbeat(details?: unknown): void;
  readonly metricMeter: MetricMeter;
  /** What the previous attempt of this step last heartbeated (to resume from), if anything. */
  readonly heartbeatDetails?: unknown;
  /**
   * Calls `apply` with each `transfer_max_bandwidth` (bytes per second, 0 = unlimited) set on the running workflow
   * (its update setTransferMaxBandwidth), until the returned function is called.
   */
  watchBandwidth(apply: (bytesPerSecond: number) => void): () => void;
}

const store = new AsyncLocalStorage<StepContext>();

/** Outside any activity (a unit test calling a helper): never cancelled, heartbeats and metrics go nowhere. */
const detached: StepContext = {
  signal: new AbortController().signal, heartbeat: () => undefined, metricMeter: noopMetricMeter, watchBandwidth: () => () => undefined,
};

function temporalContext(): StepContext | undefined {
  let c: Context;
  try {
    c = Context.current();
  } catch {
    return undefined;
  }
  return {
    signal: c.cancellationSignal, heartbeat: (d) => c.heartbeat(d), metricMeter: c.metricMeter, heartbeatDetails: c.info.heartbeatDetails,
    watchBandwidth: (apply) => watchWorkflowBandwidth(c, apply),
  };
}

/** The context of the step running now. */
export function step(): StepContext {
  return store.getStore() ?? temporalContext() ?? detached;
}

/** Runs `fn` with `context` as its step context. */
export function runStep<T>(context: StepContext, fn: () => Promise<T>): Promise<T> {
  return store.run(context, fn);
}

/** How often a running step says it is alive, whether or not it has new progress. */
export const KEEPALIVE_MS = 10_000;

/**
 * `fn` heartbeating at least every `everyMs` (its latest details again when it reported nothing
 * new), so that a heartbeat timeout of a minute notices a dead worker on every step — planning and
 * hashing included — however long the step legitimately takes.
 */
export function keptAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>, everyMs = KEEPALIVE_MS): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const outer = step();
    // Until the step reports anew, the keep-alive carries the previous attempt's checkpoint on.
    let last: unknown = outer.heartbeatDetails;
    const inner: StepContext = {
      signal: outer.signal,
      metricMeter: outer.metricMeter,
      heartbeatDetails: outer.heartbeatDetails,
      watchBandwidth: (apply) => outer.watchBandwidth(apply),
      heartbeat: (details) => {
        last = details;
        outer.heartbeat(details);
      },
    };
    const timer = setInterval(() => outer.heartbeat(last), everyMs);
    try {
      return await runStep(inner, () => fn(...args));
    } finally {
      clearInterval(timer);
    }
  };
}
