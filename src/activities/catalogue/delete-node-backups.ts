/**
 * Deleting node backups, in an order that keeps the catalogue honest at every instant and lets a
 * re-run finish what an interrupted run started:
 *
 *  -  `latest_backup/<fqdn>` moves to the newest remaining finished backup (or goes) first, so it
 *     never names a backup that is being deleted.
 *  0. The marker `P<fqdn>/<name>/meta/deleting` (outside the index: Medusa never reads it). An
 *     unfinished backup with the marker is being deleted, not being written: the next run deletes
 *     it whatever its age, where an unfinished backup younger than the grace period is left alone.
 *  1. "Unfinish": the finished_ and manifest_ index entries and meta/manifest.json go. From here on
 *     no reader trusts the backup (it lists as incomplete; restore and verify refuse it), yet it is
 *     still in the index, under its name, with its start: purge selects it again, delete-backup
 *     finds it again.
 *  2. Everything under `P<fqdn>/<name>/` (a full backup's data, the meta files) but meta/schema.cql.
 *  3. The remaining index entries but `tokenmap_` (the backup still lists, dated by meta/schema.cql),
 *     then `tokenmap_` — the entry that makes the node backup exist —, meta/schema.cql and the marker together,
 *     with no cancellation point between them. Until then a killed run leaves a backup every reader
 *     can still read (as incomplete) and the next run selects again. Only a hard kill between those
 *     two last requests can leave meta/schema.cql alone, which no index reader sees. (A backup left
 *     with nothing but `tokenmap_`, e.g. by another tool, is recognised as a leftover: facts.ts.)
 *
 * Names match exactly: keys under `P<fqdn>/<name>/` and `Pindex/backup_index/<name>/` (trailing
 * slash), index entries of exactly this fqdn — `b1` never touches `b10`, `127.0.0.1` never
 * `127.0.0.10`. Deletes go in bounded batches with a heartbeat after each, carrying the counts and
 * the backups done: a retry (worker killed) resumes with the next backup and re-lists what is left.
 */
import { step } from '../step-context';
import { mapLimit } from '../../catalogue/catalogue';
import { parseIndexKey } from '../../catalogue/index-names';
import { Layout } from '../../plan/layout';
import { ObjectInfo, Storage } from '../../storage/storage';
import { ActivityContext } from '../context';
import { catalogueFailure, readFacts } from './facts';
import type { CatalogueRef } from './plan';

/** `P<fqdn>/<name>/meta/deleting`: written before anything of the backup is deleted, gone with its last object. */
export function deletingMarker(l: Layout, name: string): string {
  return `${l.nodeBase()}/${name}/meta/deleting`;
}

export interface DeleteNodeBackupsRequest extends Required<CatalogueRef> {
  fqdn: string;
  names: string[];
  /** Objects deleted between two heartbeats (default 200). */
  batchSize?: number;
}

export interface DeletionCounts {
  objects: number;
  bytes: number;
}

export interface DeleteNodeBackupsResult extends DeletionCounts {
  fqdn: string;
  backups: string[];
  /** Where latest_backup/<fqdn> points now ('' when it was removed), if it was changed. */
  latest?: string;
}

interface Checkpoint extends DeletionCounts {
  done: number;
  latest?: string;
}

/** Deletes objects in batches of `batchSize`, `parallel` at a time, calling `after` once per batch. */
export async function deleteInBatches(storage: Storage, objects: AsyncIterable<ObjectInfo> | ObjectInfo[], batchSize: number, after: (n: DeletionCounts) => void): Promise<DeletionCounts> {
  const total = { objects: 0, bytes: 0 };
  let batch: ObjectInfo[] = [];
  const flush = async () => {
    await mapLimit(batch, 16, (o) => storage.delete(o.key));
    total.objects += batch.length;
    total.bytes += batch.reduce((a, o) => a + o.size, 0);
    after({ objects: batch.length, bytes: batch.reduce((a, o) => a + o.size, 0) });
    batch = [];
  };
  for await (const o of objects) {
    batch.push(o);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length) await flush();
  return total;
}

async function collect(storage: Storage, prefix: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of storage.list(prefix)) out.push(o);
  return out;
}

export function makeDeleteNodeBackupsActivities(ctx: ActivityContext) {
  return {
    async deleteNodeBackups(r: DeleteNodeBackupsRequest): Promise<DeleteNodeBackupsResult> {
      const activity = step();
      const storage = ctx.storage(r.bucketName);
      const l = new Layout(r.prefix, r.fqdn);
      const batchSize = r.batchSize ?? 200;
      const cp: Checkpoint = { done: 0, objects: 0, bytes: 0, ...(activity.heartbeatDetails as Checkpoint | undefined) };
      const beat = (n: DeletionCounts) => {
        cp.objects += n.objects;
        cp.bytes += n.bytes;
        activity.heartbeat({ ...cp });
        // Cancelled (workflow cancelled, worker shutting down): stop between batches; a retry resumes.
        if (activity.signal.aborted) throw activity.signal.reason;
      };
      try {
        if (cp.done === 0 && cp.latest === undefined) {
          cp.latest = await moveLatest(storage, r);
          activity.heartbeat({ ...cp });
        }
        for (; cp.done < r.names.length; cp.done++) {
          const name = r.names[cp.done];
          const own = async () => (await collect(storage, l.indexDir(name))).filter((o) => parseIndexKey(o.key, r.prefix)?.fqdn === r.fqdn);
          const kindOf = (o: ObjectInfo) => parseIndexKey(o.key, r.prefix)!.kind;
          // 0. The marker: from here on any run knows this backup is being deleted, not being written.
          await storage.putBytes(deletingMarker(l, name), `deleting since ${new Date().toISOString()}`);
          // 1. Unfinish.
          const finish = (await own()).filter((o) => kindOf(o) === 'finished' || kindOf(o) === 'manifest');
          const manifest = await storage.head(l.meta(name, 'manifest.json'));
          await deleteInBatches(storage, [...finish, ...(manifest ? [manifest] : [])], batchSize, beat);
          // 2. The backup's own folder (exactly `<name>/`), schema.cql last.
          const schemaKey = l.meta(name, 'schema.cql');
          const folder = (async function* () {
            for await (const o of storage.list(`${l.nodeBase()}/${name}/`)) if (o.key !== schemaKey && o.key !== deletingMarker(l, name)) yield o;
          })();
          await deleteInBatches(storage, folder, batchSize, beat);
          // 3. The index but tokenmap_ (meta/schema.cql still dates the start), then tokenmap_ and schema.cql together.
          const rest = await own();
          await deleteInBatches(storage, rest.filter((o) => kindOf(o) !== 'tokenmap'), batchSize, beat);
          const schema = await storage.head(schemaKey);
          const marker = await storage.head(deletingMarker(l, name));
          const last = [...rest.filter((o) => kindOf(o) === 'tokenmap'), ...(schema ? [schema] : []), ...(marker ? [marker] : [])];
          await Promise.all(last.map((o) => storage.delete(o.key)));
          beat({ objects: last.length, bytes: last.reduce((a, o) => a + o.size, 0) });
          activity.heartbeat({ ...cp, done: cp.done + 1 });
        }
      } catch (err) {
        throw catalogueFailure(err);
      }
      return { fqdn: r.fqdn, backups: r.names, objects: cp.objects, bytes: cp.bytes, ...(cp.latest !== undefined && cp.latest !== '-' ? { latest: cp.latest } : {}) };
    },
  };
}

/**
 * Points latest_backup/<fqdn> at the newest remaining finished backup of the node when it names
 * one of `names`, or removes it when none remains. Returns the new name, '' when removed, '-' when
 * left as it was.
 */
async function moveLatest(storage: Storage, r: DeleteNodeBackupsRequest): Promise<string> {
  const l = new Layout(r.prefix, r.fqdn);
  const current = (await storage.getBytes(l.latest('backup_name.txt')))?.toString('utf8').trim();
  if (current === undefined || !r.names.includes(current)) return '-';
  const { facts } = await readFacts(storage, r.prefix);
  const remaining = facts.filter((f) => f.fqdn === r.fqdn && !r.names.includes(f.name) && !f.leftover && f.finished !== null)
    .sort((a, b) => (a.finished ?? 0) - (b.finished ?? 0));
  const newest = remaining[remaining.length - 1];
  if (!newest) {
    await storage.delete(l.latest('backup_name.txt'));
    await storage.delete(l.latest('tokenmap.json'));
    return '';
  }
  const tokenmap = (await storage.getBytes(l.index(newest.name, 'tokenmap'))) ?? (await storage.getBytes(l.meta(newest.name, 'tokenmap.json')));
  if (tokenmap) await storage.putBytes(l.latest('tokenmap.json'), tokenmap);
  await storage.putBytes(l.latest('backup_name.txt'), newest.name);
  return newest.name;
}
