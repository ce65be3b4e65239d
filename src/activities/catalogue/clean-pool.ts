/**
 * The last step of purge and delete-backup, per node: delete the objects of the node's pool
 * (`P<fqdn>/data/`) that no remaining manifest of the node names and that are older than the grace
 * period. The manifests are read again here (the plan checked them; a manifest unreadable now
 * stops this node's cleanup with one line), and running backups are looked up again just before:
 * a backup being written may reuse any pool object. Bounded batches with heartbeats; a retry
 * re-lists the pool, so it resumes where the killed attempt stopped.
 */
import { step } from '../step-context';
import { nodeIsBusy, poolVerdict } from '../../catalogue/purge-plan';
import { Layout } from '../../plan/layout';
import { ObjectInfo } from '../../storage/storage';
import { ActivityContext } from '../context';
import { deleteInBatches, DeletionCounts } from './delete-node-backups';
import { catalogueFailure, readFacts, referencedPaths } from './facts';
import type { CatalogueRef } from './plan';
import { runningBackups } from './running-backups';

export interface CleanPoolRequest extends Required<CatalogueRef> {
  fqdn: string;
  graceDays: number;
  batchSize?: number;
}

export interface CleanPoolResult extends DeletionCounts {
  fqdn: string;
  /** Unreferenced objects younger than the grace period, not deleted. */
  keptWithinGrace: number;
  /** Set when a backup started writing to this node meanwhile: nothing was deleted. */
  skipped?: string;
}

export function makeCleanPoolActivities(ctx: ActivityContext) {
  return {
    async cleanPool(r: CleanPoolRequest): Promise<CleanPoolResult> {
      const activity = step();
      const storage = ctx.storage(r.bucketName);
      const done: DeletionCounts = { objects: 0, bytes: 0, ...(activity.heartbeatDetails as DeletionCounts | undefined) };
      try {
        const busy = nodeIsBusy(r.fqdn, await runningBackups(ctx, r.bucketName, r.prefix));
        if (busy) return { fqdn: r.fqdn, objects: done.objects, bytes: done.bytes, keptWithinGrace: 0, skipped: `a backup is being written to it (workflow ${busy.workflowId})` };
        const { facts } = await readFacts(storage, r.prefix);
        const referenced = await referencedPaths(facts.filter((f) => f.fqdn === r.fqdn && !f.leftover));
        const now = Date.now();
        let keptWithinGrace = 0;
        const unreferenced = async function* (): AsyncIterable<ObjectInfo> {
          for await (const o of storage.list(new Layout(r.prefix, r.fqdn).dataRoot('differential', ''))) {
            const v = poolVerdict(o, referenced, r.graceDays, now);
            if (v === 'withinGrace') keptWithinGrace++;
            if (v === 'delete') yield o;
          }
        };
        await deleteInBatches(storage, unreferenced(), r.batchSize ?? 200, (n) => {
          done.objects += n.objects;
          done.bytes += n.bytes;
          activity.heartbeat({ ...done });
          if (activity.signal.aborted) throw activity.signal.reason;
        });
        return { fqdn: r.fqdn, objects: done.objects, bytes: done.bytes, keptWithinGrace };
      } catch (err) {
        throw catalogueFailure(err);
      }
    },
  };
}
