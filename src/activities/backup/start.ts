/**
 * The first steps of a node backup, in Medusa's order: refuse a name that exists, then write
 * meta/schema.cql, meta/tokenmap.json, meta/server_version.json, meta/differential and the index
 * "started" entries. Rewriting them on a retry writes the same bytes.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describeSchema } from '../../cassandra/schema';
import { readTokenRing } from '../../cassandra/token-ring';
import { backupNameProblem } from '../../plan/backup-name';
import { Layout } from '../../plan/layout';
import { pyJsonDumps } from '../../plan/python-json';
import { serializeTokenMap, TokenMap } from '../../plan/tokenmap';
import { Storage } from '../../storage/storage';
import { ActivityContext } from '../context';
import { cqlClient } from '../cql';
import { ringNodeNameOf } from '../../nodes/host-names';
import { badInput, classify } from '../failures';
import { readCassandraYaml } from './node-commands';
import { BackupStart, NodeBackupRef } from './types';

const NOT_IN_SCHEMA = ['system_traces', 'system_views', 'system_virtual_schema'];

export function layoutFor(ctx: ActivityContext, ref: NodeBackupRef): Layout {
  return new Layout(ref.prefix ?? ctx.config.storage.prefix, ref.fqdn);
}

/** Writes the index timestamp entry and removes any left by an earlier attempt, so exactly one remains. */
export async function replaceTimestamp(storage: Storage, l: Layout, name: string, kind: 'started' | 'finished', epoch: number): Promise<void> {
  const key = l.indexTimestamp(name, kind, epoch);
  await storage.putBytes(key, String(epoch));
  for await (const o of storage.list(`${l.indexDir(name)}${kind}_${l.fqdn}_`)) {
    if (o.key !== key && /^\d+\.timestamp$/.test(o.key.slice(`${l.indexDir(name)}${kind}_${l.fqdn}_`.length))) await storage.delete(o.key);
  }
}

export function makeStartActivities(ctx: ActivityContext) {
  return {
    /** Refuses a bad name, an unreachable bucket, or a backup of this node with this name that exists. */
    async checkBackupName(ref: NodeBackupRef & { useExistingSnapshot: boolean }): Promise<void> {
      const problem = backupNameProblem(ref.backupName);
      if (problem) throw badInput(problem);
      await classify(ref.fqdn, 'check storage', async () => {
        const storage = ctx.storage(ref.bucketName);
        await storage.check();
        const key = layoutFor(ctx, ref).meta(ref.backupName, 'schema.cql');
        if (!ref.useExistingSnapshot && (await storage.head(key))) {
          throw ApplicationFailure.nonRetryable(`Backup ${ref.backupName} already exists for ${ref.fqdn} (${storage.description}/${key})`, 'BackupExists');
        }
      });
    },

    async writeBackupStart(ref: NodeBackupRef): Promise<BackupStart> {
      return classify(ref.fqdn, 'write meta files', async () => {
        const node = await ctx.openNode(ref.fqdn);
        let yaml;
        try {
          yaml = await readCassandraYaml(node, ctx.config.cassandra.configFile);
        } finally {
          await node.close();
        }
        const client = cqlClient(ctx.config.cassandra, yaml.rpcAddress ?? ref.fqdn, yaml.nativePort);
        let schema: string;
        let tokenmap: TokenMap;
        let releaseVersion: string;
        try {
          await client.connect();
          const elements = await describeSchema(client, { full: true });
          schema = elements.filter((e) => !NOT_IN_SCHEMA.includes(e.keyspace)).map((e) => e.statement).join('\n\n') + '\n';
          const ring = await readTokenRing(client);
          tokenmap = {};
          for (const n of ring) tokenmap[await ringNodeNameOf(n.address, ctx.config.cassandra.resolveIpAddresses)] = { tokens: n.tokens, isUp: n.isUp, rack: n.rack, dc: n.datacenter };
          releaseVersion = (await client.execute('SELECT release_version FROM system.local')).rows[0].release_version as string;
        } finally {
          await client.shutdown();
        }
        const storage = ctx.storage(ref.bucketName);
        const l = layoutFor(ctx, ref);
        const name = ref.backupName;
        const tokenmapText = serializeTokenMap(tokenmap);
        const schemaInfo = await storage.putBytes(l.meta(name, 'schema.cql'), schema);
        await storage.putBytes(l.meta(name, 'tokenmap.json'), tokenmapText);
        await storage.putBytes(l.meta(name, 'server_version.json'), pyJsonDumps({ server_type: 'cassandra', release_version: releaseVersion }));
        if (ref.mode === 'differential') await storage.putBytes(l.meta(name, 'differential'), 'differential');
        const startedEpoch = Math.floor(schemaInfo.lastModified.getTime() / 1000);
        await storage.putBytes(l.index(name, 'tokenmap'), tokenmapText);
        await storage.putBytes(l.index(name, 'schema'), schema);
        await replaceTimestamp(storage, l, name, 'started', startedEpoch);
        if (ref.mode === 'differential') await storage.putBytes(l.index(name, 'differential'), 'differential');
        return { dataDir: yaml.dataDir, startedEpoch, releaseVersion };
      });
    },
  };
}
