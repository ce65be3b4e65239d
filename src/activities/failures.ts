/**
 * Sorting errors at the activity boundary: problems a retry cannot fix (bad input, configuration,
 * refused credentials or host keys, a backup name that exists) become non-retryable failures with
 * a type the CLI can name; everything else (timeouts, resets, 5xx) is left to the retry policy.
 */
import { ApplicationFailure } from '@temporalio/common';
import { PERMANENT_ERROR_TYPES } from '../shared/error-types';
import { activityFailed } from './metrics';


export function badInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'BadInput');
}

/** Runs an activity body, turning permanent errors into non-retryable failures that keep their message. */
export async function classify<T>(node: string, step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    activityFailed(node, step, err);
    const e = err as Error;
    if (e instanceof ApplicationFailure) throw e;
    if (PERMANENT_ERROR_TYPES.includes(e.name)) throw ApplicationFailure.nonRetryable(`${node}: ${step}: ${e.message}`, e.name);
    throw ApplicationFailure.retryable(`${node}: ${step}: ${e.message}`, e.name || 'Error');
  }
}
