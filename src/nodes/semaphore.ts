/**
 * A counting semaphore with FIFO waiters. The SSH adapter puts every channel it opens through
 * one, because OpenSSH refuses the session beyond MaxSessions (10 by default) per connection.
 */
import { abortError } from './abort-error';

/** Gives back the permit; calling it twice is harmless. */
export type Release = () => void;

export class Semaphore {
  private available: number;
  private readonly waiters: Array<(release: Release) => void> = [];

  constructor(readonly permits: number) {
    if (!Number.isInteger(permits) || permits < 1) throw new RangeError(`permits must be a positive integer, got ${permits}`);
    this.available = permits;
  }

  /** Permits not taken right now (for tests and diagnostics). */
  get free(): number {
    return this.available;
  }

  /** Waits for a permit; an abort while waiting rejects with an AbortError and takes nothing. */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortError(signal, 'waiting for a free channel'));
    if (this.available > 0) {
      this.available--;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = (release: Release) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortError(signal!, 'waiting for a free channel'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      // Hand the permit straight to the next waiter so a newcomer cannot overtake it.
      const next = this.waiters.shift();
      if (next) next(this.releaser());
      else this.available++;
    };
  }
}
