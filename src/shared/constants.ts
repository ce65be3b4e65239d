/** The task queue the central worker polls (workflows and activities that reach nodes over SSH). */
export const DEFAULT_TASK_QUEUE = 'medusa';

/** The task queue a node-local worker polls: work for that node only. */
export function nodeTaskQueue(fqdn: string): string {
  return `medusa-node-${fqdn}`;
}
