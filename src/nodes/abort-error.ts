/** The error NodeAccess operations reject with when their AbortSignal fires. */

/**
 * Builds an error named `AbortError` (what `fetch`, `timers/promises` and Temporal's cancellation
 * handling recognise), keeping the signal's reason as `cause`.
 */
export function abortError(signal: AbortSignal, what: string): Error {
  const err = new Error(`aborted: ${what}`, { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

/** True for errors built by {@link abortError} (or any other AbortError). */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}
