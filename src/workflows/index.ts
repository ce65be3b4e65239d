/** Every workflow the worker registers. Deterministic code only: no I/O, no clock, no environment. */
export { checkWorker } from './check-worker';
export type { CheckWorkerInput, CheckWorkerResult } from './check-worker';
