/** Taking and clearing the node's snapshot `medusa-<name>` with nodetool. */
import { ActivityContext } from '../context';
import { classify } from '../failures';
import { listSnapshot, nodetool, readCassandraYaml } from './node-commands';

export interface SnapshotRef {
  fqdn: string;
  tag: string;
  /** The node's data directory; read from its cassandra.yaml when not given. */
  dataDir?: string;
}

export function makeSnapshotActivities(ctx: ActivityContext) {
  const sudo = () => ctx.config.cassandra.useSudo && ctx.nodeMode !== 'local' && ctx.config.ssh.username !== 'root';
  return {
    /** Takes the snapshot, or reuses one with this tag (a retry, or backup-cluster's phase 1). A failed nodetool fails the backup. */
    async takeSnapshot(r: SnapshotRef & { mustExist: boolean }): Promise<{ reused: boolean; files: number }> {
      return classify(r.fqdn, 'snapshot', async () => {
        const node = await ctx.openNode(r.fqdn);
        try {
          const dataDir = r.dataDir ?? (await readCassandraYaml(node, ctx.config.cassandra.configFile)).dataDir;
          const existing = await listSnapshot(node, dataDir, r.tag);
          if (existing.tables.length > 0) return { reused: true, files: existing.files.length };
          if (r.mustExist) {
            const e = new Error(`--use-existing-snapshot: no snapshot named ${r.tag} under ${dataDir}/*/*/snapshots/`);
            e.name = 'SnapshotMissing';
            throw e;
          }
          await nodetool(node, ctx.config.cassandra, sudo(), ['snapshot', '-t', r.tag]);
          const made = await listSnapshot(node, dataDir, r.tag);
          if (made.tables.length === 0) throw new Error(`nodetool snapshot -t ${r.tag} succeeded but no snapshot directory appeared under ${dataDir}`);
          return { reused: false, files: made.files.length };
        } finally {
          await node.close();
        }
      });
    },

    /** Clears the snapshot (if it is there) and the backup's work files on the node. */
    async clearSnapshot(r: SnapshotRef & { workDir: string }): Promise<{ cleared: boolean }> {
      return classify(r.fqdn, 'clear snapshot', async () => {
        const node = await ctx.openNode(r.fqdn);
        try {
          await node.exec(`rm -rf '${r.workDir.replace(/'/g, '')}'`);
          const dataDir = r.dataDir ?? (await readCassandraYaml(node, ctx.config.cassandra.configFile)).dataDir;
          const existing = await listSnapshot(node, dataDir, r.tag);
          if (existing.tables.length === 0) return { cleared: false };
          await nodetool(node, ctx.config.cassandra, sudo(), ['clearsnapshot', '-t', r.tag]);
          return { cleared: true };
        } finally {
          await node.close();
        }
      });
    },
  };
}
