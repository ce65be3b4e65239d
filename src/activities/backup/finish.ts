/**
 * The end of a node backup, in Medusa's order: meta/manifest.json (its presence means the node
 * backup finished), the index "finished" entries, then latest_backup/<fqdn>. Every planned object
 * is checked in storage first (one listing): a manifest never names an object that is not there in full.
 */
import { commonFolder } from '../../plan/differential';
import { buildManifest, ManifestObject, serializeManifest } from '../../plan/manifest';
import { ActivityContext } from '../context';
import { classify } from '../failures';
import { backupFinished } from '../metrics';
import { PlanFile, readPlan } from './plan';
import { readQuarantine } from '../../catalogue/quarantine';
import { layoutFor, replaceTimestamp } from './start';
import { FinishResult, NodeBackupRef } from './types';
import { uploadedPath } from './upload';

export function makeFinishActivities(ctx: ActivityContext) {
  return {
    async finishBackup(r: NodeBackupRef & { planPath: string }): Promise<FinishResult> {
      return classify(r.fqdn, 'write manifest', async () => {
        const node = await ctx.openNode(r.fqdn);
        let plan: PlanFile;
        let hashes: Record<string, string | null> = {};
        try {
          plan = await readPlan(node, r.planPath);
          const uploaded = await node.stat(uploadedPath(r.planPath));
          if (uploaded) hashes = JSON.parse((await node.readFile(uploadedPath(r.planPath))).toString('utf8')) as typeof hashes;
        } finally {
          await node.close();
        }
        const storage = ctx.storage(r.bucketName);
        // What was sent, as storage has it now: one listing of the folder they share, not a request per file.
        const sent = plan.files.filter((f) => f.action !== 'keep');
        const stored = new Map<string, { size: number; hash: string | null }>();
        if (sent.length > 0) for await (const o of storage.list(commonFolder(sent.map((f) => f.key)))) stored.set(o.key, { size: o.size, hash: o.hash });
        const objects: (ManifestObject & { keyspace: string; tableDir: string })[] = [];
        for (const f of plan.files) {
          let hash: string | null;
          if (f.action === 'keep') {
            hash = f.existing!.hash;
          } else {
            const head = stored.get(f.key);
            if (!head || head.size !== f.size) throw new Error(`${f.key} is ${head ? `${head.size} bytes` : 'missing'} in storage, expected ${f.size} bytes: the upload is not complete`);
            hash = hashes[f.key] ?? head.hash;
          }
          objects.push({ keyspace: f.keyspace, tableDir: f.tableDir, path: f.key, MD5: hash, size: f.size });
        }
        const manifest = serializeManifest(buildManifest(plan.tables, objects));
        const l = layoutFor(ctx, r);
        const name = r.backupName;
        const info = await storage.putBytes(l.meta(name, 'manifest.json'), manifest);
        const finishedEpoch = Math.floor(info.lastModified.getTime() / 1000);
        await storage.putBytes(l.index(name, 'manifest'), manifest);
        await replaceTimestamp(storage, l, name, 'finished', finishedEpoch);
        const tokenmap = await storage.getBytes(l.meta(name, 'tokenmap.json'));
        if (!tokenmap) throw new Error(`${l.meta(name, 'tokenmap.json')} has disappeared from storage`);
        await storage.putBytes(l.latest('tokenmap.json'), tokenmap);
        await storage.putBytes(l.latest('backup_name.txt'), name);
        // Corrupt objects this backup sent again are whole now: their quarantine records go.
        if (plan.mode === 'differential') {
          const quarantined = await readQuarantine(storage, r.prefix ?? ctx.config.storage.prefix, r.fqdn);
          for (const f of plan.files) if (f.action === 'upload' && quarantined.has(f.key)) await storage.delete(quarantined.get(f.key)!);
        }
        // meta/schema.cql dates the index "started" entry (start.ts); metrics never fail a backup.
        const started = await storage.head(l.meta(name, 'schema.cql')).catch(() => undefined);
        backupFinished(r, { files: plan.files, started: started?.lastModified, finishedEpoch });
        return { manifestKey: l.meta(name, 'manifest.json'), finishedEpoch, objects: objects.length, bytes: objects.reduce((a, o) => a + o.size, 0) };
      });
    },
  };
}
