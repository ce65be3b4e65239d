/**
 * Planning `restore-cluster`, before anything on a node is touched: the backup must exist and be
 * complete (unless forced: then only its finished nodes are restored), and the cluster it goes
 * back to must be the one it came from (every node of the backup present with the same tokens), or
 * another cluster of the same size, whose nodes will be pinned to the backup's tokens (see
 * plan/restore-mapping.ts).
 */
import { ApplicationFailure } from '@temporalio/common';
import { CatalogueError, getClusterBackup } from '../../catalogue/catalogue';
import { nodeTaskQueueOf } from '../../config/medusa-config';
import { readTokenRing } from '../../cassandra/token-ring';
import { ActivityContext } from '../context';
import { cqlClient } from '../cql';
import { ringNodeNameOf } from '../../nodes/host-names';
import { classify } from '../failures';
import { mapRestore, MappingError, MappingHost } from '../../plan/restore-mapping';
import { clusterLockId } from '../../shared/constants';

export type { HostPair as HostMapping } from '../../plan/restore-mapping';
import type { HostPair } from '../../plan/restore-mapping';

export interface PlanClusterRestoreRequest {
  backupName: string;
  bucketName?: string;
  prefix?: string;
  /** A node of the cluster to restore to; default: the worker's [storage] fqdn. */
  seedTarget?: string;
  /** Medusa's --host-list, parsed: which backup node goes to which target. */
  hostList?: HostPair[];
  /** Restore the finished nodes of an incomplete backup instead of refusing it. */
  force?: boolean;
  nodeWorkers?: boolean;
}

export interface RestoreTarget {
  /** The node restored onto. */
  fqdn: string;
  /** The backup node whose files it receives (the same node in place). */
  source: string;
  /** Onto another host: the source's tokens, which the target is started with (initial_token). */
  pinTokens?: string[];
  datacenter: string;
  rack: string;
  firstToken: string;
  taskQueue?: string;
}

export interface ClusterRestorePlan {
  clusterName: string;
  /** The cluster lock's workflow id: a restore and a backup of the same cluster and catalogue never overlap. */
  lockId: string;
  backupType: 'differential' | 'full';
  /** In token order. */
  nodes: RestoreTarget[];
  /** Nodes of the backup left out because their backup did not finish (only with force). */
  skipped: string[];
}

const refuse = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);

export function makeClusterRestorePlanActivities(ctx: ActivityContext) {
  return {
    async planClusterRestore(r: PlanClusterRestoreRequest): Promise<ClusterRestorePlan> {
      const seed = r.hostList?.[0]?.target ?? r.seedTarget ?? ctx.config.storage.fqdn;
      return classify(seed, 'plan the cluster restore', async () => {
        const storage = ctx.storage(r.bucketName);
        const prefix = r.prefix ?? ctx.config.storage.prefix;
        const cluster = await getClusterBackup(storage, prefix, r.backupName).catch((err: unknown) => {
          throw err instanceof CatalogueError ? refuse(err.message, 'BackupNotFound') : err;
        });
        const tokenmap = await cluster.tokenmap();
        const missing = await cluster.missingNodes();
        const unfinished = (await cluster.incompleteNodes()).map((n) => n.fqdn);
        const skipped = [...missing, ...unfinished].sort();
        if (skipped.length && !r.force) {
          throw refuse(`backup ${r.backupName} is incomplete: ${[...missing.map((f) => `${f} (no backup)`), ...unfinished.map((f) => `${f} (not finished)`)].join(', ')}; `
            + 'restore it anyway with --force (only the finished nodes are restored)', 'BackupIncomplete');
        }
        const client = cqlClient(ctx.config.cassandra, seed, 9042);
        let ring;
        let clusterName: string;
        try {
          await client.connect();
          ring = await readTokenRing(client);
          clusterName = String((await client.execute('SELECT cluster_name FROM system.local')).rows[0]?.cluster_name ?? '');
        } catch (err) {
          if ((err as Error).name === 'NoHostAvailableError') throw new Error(`cannot reach ${seed} over CQL (port 9042) to read the cluster's token ring: ${(err as Error).message.split('\n')[0]}`);
          throw err;
        } finally {
          await client.shutdown();
        }
        const live: MappingHost[] = [];
        for (const n of ring) live.push({ fqdn: await ringNodeNameOf(n.address, ctx.config.cassandra.resolveIpAddresses), tokens: n.tokens, datacenter: n.datacenter, rack: n.rack });
        const sources: MappingHost[] = Object.entries(tokenmap).filter(([f]) => !skipped.includes(f)).map(([fqdn, e]) => ({ fqdn, tokens: e.tokens, datacenter: e.dc }));
        if (sources.length === 0) throw refuse(`backup ${r.backupName} has no node to restore`, 'BackupIncomplete');
        let mapping;
        try {
          mapping = mapRestore(sources, live, r.hostList);
        } catch (err) {
          if (err instanceof MappingError) throw refuse(`backup ${r.backupName} does not fit the cluster of ${seed}: ${err.message}`, 'TopologyMismatch');
          throw err;
        }
        const workers = r.nodeWorkers ?? ctx.config.orchestration.nodeAccess === 'worker';
        const nodes: RestoreTarget[] = mapping.map((m) => {
          const t = live.find((h) => h.fqdn === m.target)!;
          return {
            fqdn: m.target, source: m.source, datacenter: t.datacenter ?? '', rack: t.rack ?? '', firstToken: String(t.tokens.reduce((a, b) => (b < a ? b : a), t.tokens[0] ?? 0n)),
            ...(m.pinTokens ? { pinTokens: m.pinTokens } : {}),
            ...(workers ? { taskQueue: nodeTaskQueueOf(ctx.config.orchestration, m.target) } : {}),
          };
        });
        const lockId = clusterLockId(clusterName, r.bucketName ?? ctx.config.storage.bucketName, prefix);
        return { clusterName, lockId, backupType: await cluster.backupType(), nodes, skipped };
      });
    },
  };
}
