/**
 * The start of a cluster backup, on the central worker: check the name and the storage, refuse a
 * cluster backup name already in the index, and read the nodes of every datacenter from the seed's
 * token ring, in token order (the order `--stagger` follows).
 */
import { ApplicationFailure } from '@temporalio/common';
import { readTokenRing } from '../../cassandra/token-ring';
import { backupNameProblem } from '../../plan/backup-name';
import { Layout } from '../../plan/layout';
import { nodeTaskQueueOf } from '../../config/medusa-config';
import { clusterLockId } from '../../shared/constants';
import { ActivityContext } from '../context';
import { cqlClient } from '../cql';
import { ringNodeNameOf } from '../../nodes/host-names';
import { badInput, classify } from '../failures';

export interface ClusterNode {
  fqdn: string;
  datacenter: string;
  rack: string;
  /** Lowest token, as an exact decimal string. */
  firstToken: string;
  isUp: boolean;
  /** The task queue of the worker on this node; absent: the node is reached over SSH. */
  taskQueue?: string;
}

export interface DiscoveredCluster {
  seed: string;
  /** system.local cluster_name of the seed. */
  clusterName: string;
  /**
   * Id of the workflow that marks "a cluster backup runs here": one per cluster and storage location
   * (bucket and prefix), so that two backups of the same cluster into the same catalogue cannot overlap.
   */
  lockId: string;
  nodes: ClusterNode[];
}

export interface DiscoverRequest {
  backupName: string;
  /** Node to read the ring from; default: the worker's [storage] fqdn. */
  seedTarget?: string;
  bucketName?: string;
  prefix?: string;
  /** Skip the "name exists" check (a resumed run of the same workflow after its first step). */
  allowExisting?: boolean;
  /** Node workers (true) or SSH (false); absent: `[orchestration] node_access` of the worker's medusa.ini. */
  nodeWorkers?: boolean;
}

export function makeDiscoverActivities(ctx: ActivityContext) {
  return {
    async discoverCluster(r: DiscoverRequest): Promise<DiscoveredCluster> {
      const problem = backupNameProblem(r.backupName);
      if (problem) throw badInput(problem);
      const seed = r.seedTarget ?? ctx.config.storage.fqdn;
      return classify(seed, 'discover the cluster', async () => {
        const storage = ctx.storage(r.bucketName);
        await storage.check();
        const indexDir = new Layout(r.prefix ?? ctx.config.storage.prefix, seed).indexDir(r.backupName);
        if (!r.allowExisting) {
          for await (const _o of storage.list(indexDir)) {
            throw ApplicationFailure.nonRetryable(`Backup named ${r.backupName} already exists (${storage.description}/${indexDir})`, 'BackupExists');
          }
        }
        const client = cqlClient(ctx.config.cassandra, seed, 9042);
        try {
          await client.connect();
          const ring = await readTokenRing(client);
          const clusterName = String((await client.execute('SELECT cluster_name FROM system.local')).rows[0]?.cluster_name ?? '');
          const workers = r.nodeWorkers ?? ctx.config.orchestration.nodeAccess === 'worker';
          const nodes: ClusterNode[] = [];
          for (const n of ring) {
            const first = n.tokens.reduce((a, b) => (b < a ? b : a), n.tokens[0] ?? 0n);
            const fqdn = await ringNodeNameOf(n.address, ctx.config.cassandra.resolveIpAddresses);
            nodes.push({
              fqdn, datacenter: n.datacenter, rack: n.rack, firstToken: first.toString(), isUp: n.isUp,
              ...(workers ? { taskQueue: nodeTaskQueueOf(ctx.config.orchestration, fqdn) } : {}),
            });
          }
          nodes.sort((a, b) => (BigInt(a.firstToken) < BigInt(b.firstToken) ? -1 : BigInt(a.firstToken) > BigInt(b.firstToken) ? 1 : 0));
          const bucket = r.bucketName ?? ctx.config.storage.bucketName;
          const prefix = r.prefix ?? ctx.config.storage.prefix;
          return { seed, clusterName, lockId: clusterLockId(clusterName, bucket, prefix), nodes };
        } catch (err) {
          if ((err as Error).name === 'NoHostAvailableError') throw new Error(`cannot reach the seed target ${seed} over CQL (port 9042): ${(err as Error).message.split('\n')[0]}`);
          throw err;
        } finally {
          await client.shutdown();
        }
      });
    },
  };
}
