/**
 * Transfer bandwidth limiting (Medusa's `transfer_max_bandwidth`): one token bucket per Storage
 * instance, shared by all of its concurrent uploads and downloads, so the limit holds for the instance as a whole
 * rather than per file. Tokens are bytes; the bucket refills at the configured rate and holds at
 * most `burstBytes` (one second's worth by default), so an idle instance may briefly send faster.
 *
 * A caller asking for more than is available is charged at once and then waits for the deficit to
 * refill. Because the charge happens before the wait, concurrent callers queue up behind each other
 * in arrival order without any explicit queue.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

export interface BandwidthLimiter {
  /** Waits until `bytes` may be sent. Resolves at once when unlimited; rejects when `signal` aborts. */
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/** Time source, injectable so tests run without real waiting. */
export interface LimiterClock {
  /** Milliseconds, monotonic. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: LimiterClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

/** A limiter that never waits. */
export const unlimited: BandwidthLimiter = { take: async () => undefined };

/**
 * A token bucket of `bytesPerSecond`; 0, negative or undefined means unlimited.
 * @param burstBytes the bucket's capacity (and initial content); defaults to one second's worth.
 */
export function createBandwidthLimiter(
  bytesPerSecond: number | undefined,
  clock: LimiterClock = realClock,
  burstBytes = bytesPerSecond,
): BandwidthLimiter {
  if (!bytesPerSecond || bytesPerSecond <= 0) return unlimited;
  const rate = bytesPerSecond / 1000; // bytes per millisecond
  const capacity = Math.max(0, burstBytes ?? bytesPerSecond);
  let tokens = capacity;
  let last = clock.now();

  return {
    async take(bytes, signal) {
      signal?.throwIfAborted();
      const now = clock.now();
      tokens = Math.min(capacity, tokens + (now - last) * rate);
      last = now;
      tokens -= bytes;
      if (tokens >= 0) return;
      try {
        await clock.sleep(-tokens / rate, signal);
      } catch (err) {
        // The bytes were never sent: give them back so the other uploads are not slowed for nothing.
        tokens += bytes;
        throw err;
      }
    },
  };
}

/**
 * `body` read no faster than `limiter` allows (`body` itself when unlimited); destroying the result destroys `body`.
 * What is not read cannot be sent, so this throttles uploads and downloads alike.
 */
export function throttle(body: Readable, limiter: BandwidthLimiter, signal?: AbortSignal): Readable {
  if (limiter === unlimited) return body;
  const out = Readable.from((async function* () {
    for await (const chunk of body) {
      await limiter.take((chunk as Buffer).length, signal);
      yield chunk as Buffer;
    }
  })(), { objectMode: false });
  out.once('close', () => body.destroy());
  return out;
}
