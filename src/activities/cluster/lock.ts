/**
 * Who holds a cluster lock: the lock workflow's parent is the cluster backup that runs. Read with
 * the worker's own Temporal client, so the refusal can name the running backup.
 */
import { Context } from '@temporalio/activity';

export function makeLockActivities() {
  return {
    async clusterLockHolder(lockId: string): Promise<string | undefined> {
      try {
        const d = await Context.current().client.workflow.getHandle(lockId).describe();
        return d.parentExecution?.workflowId ?? undefined;
      } catch {
        // Released between the refusal and this look: the caller says so without a name.
        return undefined;
      }
    },
  };
}
