/** The error an upload rejects with when its AbortSignal fires, the same for both adapters. */

/**
 * An error named `AbortError` (what Temporal's cancellation handling and `timers/promises`
 * recognise), with the signal's reason as `cause`. Built afresh rather than rethrowing whatever the
 * SDK or the stream happened to fail with, so callers see one shape whichever layer noticed first.
 */
export function uploadAborted(signal: AbortSignal, what: string): Error {
  const err = new Error(`aborted: ${what}`, { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}
