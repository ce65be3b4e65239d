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
import { Readable, Transform } from 'node:stream';
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

/** A limiter whose rate can change while transfers run (a new `transfer_max_bandwidth` for a running backup). */
export interface AdjustableLimiter extends BandwidthLimiter {
  /** The new rate in bytes per second (0 or undefined: unlimited), in force from the next chunk each transfer sends. */
  setRate(bytesPerSecond: number | undefined): void;
  /** The rate in force, bytes per second (0: unlimited). */
  readonly rate: number;
}

/** Large charges are waited for in slices of this size, so a changed rate applies within one slice. */
const SLICE = 64 * 1024;

/**
 * A token bucket of `bytesPerSecond` that can be changed later; 0, negative or undefined means unlimited until a
 * rate is set. Capacity is one second's worth of the rate in force.
 * @param burstBytes the capacity (and initial content) at the initial rate; defaults to one second's worth.
 */
export function createAdjustableLimiter(
  bytesPerSecond: number | undefined,
  clock: LimiterClock = realClock,
  burstBytes = bytesPerSecond,
): AdjustableLimiter {
  let rate = 0; // bytes per millisecond; 0 = unlimited
  let capacity = 0;
  let tokens = 0;
  let last = clock.now();
  const refill = () => {
    const now = clock.now();
    if (rate > 0) tokens = Math.min(capacity, tokens + (now - last) * rate);
    last = now;
  };
  const setRate = (bps: number | undefined, burst?: number) => {
    refill();
    rate = bps && bps > 0 ? bps / 1000 : 0;
    capacity = rate > 0 ? Math.max(0, burst ?? rate * 1000) : 0;
    // A lower limit keeps no more credit than its own burst; from unlimited to a limit there is none to spend.
    tokens = Math.min(tokens, capacity);
  };
  setRate(bytesPerSecond, burstBytes);
  tokens = capacity; // a fresh limiter starts with its burst

  const takeSlice = async (bytes: number, signal?: AbortSignal) => {
    refill();
    if (rate === 0) return;
    tokens -= bytes;
    if (tokens >= 0) return;
    const charged = rate;
    try {
      await clock.sleep(-tokens / rate, signal);
    } catch (err) {
      // The bytes were never sent: give them back so the other transfers are not slowed for nothing.
      if (rate === charged) tokens += bytes;
      throw err;
    }
  };

  return {
    get rate() {
      return rate * 1000;
    },
    setRate: (bps) => setRate(bps),
    async take(bytes, signal) {
      signal?.throwIfAborted();
      if (rate === 0) return;
      if (bytes <= SLICE) return takeSlice(bytes, signal);
      for (let left = bytes; left > 0; left -= SLICE) await takeSlice(Math.min(SLICE, left), signal);
    },
  };
}

/**
 * A token bucket of `bytesPerSecond` that never changes; 0, negative or undefined means unlimited.
 * @param burstBytes the bucket's capacity (and initial content); defaults to one second's worth.
 */
export function createBandwidthLimiter(
  bytesPerSecond: number | undefined,
  clock: LimiterClock = realClock,
  burstBytes = bytesPerSecond,
): BandwidthLimiter {
  if (!bytesPerSecond || bytesPerSecond <= 0) return unlimited;
  return createAdjustableLimiter(bytesPerSecond, clock, burstBytes);
}

/**
 * `body` read no faster than `limiter` allows (`body` itself when unlimited); destroying the result destroys `body`.
 * What is not read cannot be sent, so this throttles uploads and downloads alike.
 */
export function throttle(body: Readable, limiter: BandwidthLimiter, signal?: AbortSignal): Readable {
  if (limiter === unlimited) return body;
  // A limiter changeable at run time costs a comparison per chunk while it is unlimited, not a wait.
  const free = 'rate' in limiter ? () => (limiter as AdjustableLimiter).rate === 0 : () => false;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (free()) return done(null, chunk);
      limiter.take(chunk.length, signal).then(() => done(null, chunk), done);
    },
  });
  body.once('error', (err) => out.destroy(err));
  out.once('close', () => body.destroy());
  // An aborted transfer fails the source after its reader (an HTTP request aborted by the same signal) has let go:
  // the error is the reader's to see if it still reads, and must not crash the process when nobody does.
  out.on('error', () => undefined);
  return body.pipe(out);
}
