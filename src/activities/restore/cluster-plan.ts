/**
 * Planning `restore-cluster`, before anything on a node is touched: the backup must exist and be
 * complete (unless forced: then only its finished nodes are restored), and the cluster it goes
 * back to must be the one it came from — every node of the backup present with the same tokens.
 * Restoring onto other hosts (token pinning) is refused with one line, not attempted.
 */
import { ApplicationFailure } from '@temporalio/common';
import { CatalogueError, getClusterBackup } from '../../catalogue/catalogue';
import { nodeTaskQueueOf } from '../../config/medusa-config';
import { readTokenRing } from '../../cassandra/token-ring';
import { ActivityContext } from '../context';
import { cqlClient, fqdnOf } from '../cql';
import { classify } from '../failures';
import { clusterLockId } from '../../shared/constants';

export interface HostMapping {
  seed: boolean;
  target: string;
  source: string;
}

export interface PlanClusterRestoreRequest {
  backupName: string;
  bucketName?: string;
  prefix?: string;
  /** A node of the cluster to restore to; default: the worker's [storage] fqdn. */
  seedTarget?: string;
  /** Medusa's --host-list, parsed: which backup node goes to which target. */
  hostList?: HostMapping[];
  /** Restore the finished nodes of an incomplete backup instead of refusing it. */
  force?: boolean;
  nodeWorkers?: boolean;
}

export interface RestoreTarget {
  /** The node whose backup is restored, and (in place) the node it is restored onto. */
  fqdn: string;
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
        const moved = (r.hostList ?? []).filter((h) => h.source !== h.target);
        if (moved.length) {
          throw refuse(`restoring onto other hosts is not supported yet (${moved.map((h) => `${h.source} → ${h.target}`).join(', ')}): `
            + 'only in-place restores, where every target is the node the backup was taken from', 'TopologyMismatch');
        }
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
        const live = new Map<string, { tokens: bigint[]; datacenter: string; rack: string }>();
        for (const n of ring) live.set(await fqdnOf(n.address, ctx.config.cassandra.resolveIpAddresses), n);
        const wanted = r.hostList ? new Set(r.hostList.map((h) => h.source)) : undefined;
        const problems: string[] = [];
        const nodes: RestoreTarget[] = [];
        for (const [fqdn, entry] of Object.entries(tokenmap)) {
          if (skipped.includes(fqdn) || (wanted && !wanted.has(fqdn))) continue;
          const now = live.get(fqdn);
          if (!now) {
            problems.push(`${fqdn} is not in the cluster`);
            continue;
          }
          const key = (ts: bigint[]) => [...ts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(',');
          if (key(now.tokens) !== key(entry.tokens)) {
            problems.push(`${fqdn} owns ${now.tokens.length} token(s) starting ${String(now.tokens[0])}, the backup ${entry.tokens.length} starting ${String(entry.tokens[0])}`);
            continue;
          }
          const first = now.tokens.reduce((a, b) => (b < a ? b : a), now.tokens[0] ?? 0n);
          nodes.push({
            fqdn, datacenter: now.datacenter, rack: now.rack, firstToken: first.toString(),
            ...((r.nodeWorkers ?? ctx.config.orchestration.nodeAccess === 'worker') ? { taskQueue: nodeTaskQueueOf(ctx.config.orchestration, fqdn) } : {}),
          });
        }
        for (const h of r.hostList ?? []) if (!(h.source in tokenmap)) problems.push(`${h.source} (in the host list) has no backup in ${r.backupName}`);
        if (problems.length) {
          throw refuse(`backup ${r.backupName} does not fit the cluster of ${seed}: ${problems.join('; ')}`, 'TopologyMismatch');
        }
        if (nodes.length === 0) throw refuse(`backup ${r.backupName} has no node to restore`, 'BackupIncomplete');
        nodes.sort((a, b) => (BigInt(a.firstToken) < BigInt(b.firstToken) ? -1 : 1));
        const lockId = clusterLockId(clusterName, r.bucketName ?? ctx.config.storage.bucketName, prefix);
        return { clusterName, lockId, backupType: await cluster.backupType(), nodes, skipped };
      });
    },
  };
}
