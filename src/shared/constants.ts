/** The task queue the central worker polls (workflows and activities that reach nodes over SSH). */
export const DEFAULT_TASK_QUEUE = 'medusa';

/** Id of the lock workflow held by the running cluster backup of one cluster into one catalogue. */
export function clusterLockId(clusterName: string, bucket: string, prefix: string): string {
  return `medusa-cluster-lock/${clusterName}@${bucket}${prefix ? `/${prefix}` : ''}`;
}
