/**
 * `build-index`: rebuilds `index/backup_index/` and `index/latest_backup/` from the node backups
 * themselves (`<P><fqdn>/<name>/meta/`), for a catalogue whose index was lost or written by a tool
 * that does not keep one. Entries are what a backup writes (§1.2), dated like a backup dates them:
 * started = schema.cql's last-modified time, finished = manifest.json's. Unlike Medusa, a
 * differential backup gets its `differential_<fqdn>` entry (Medusa's build-index drops it, so its
 * rebuilt catalogue calls every backup full), and entries already right are not rewritten.
 */
import { Layout } from '../plan/layout';
import { Storage } from '../storage/storage';
import { replaceTimestamp } from '../activities/backup/start';
import { mapLimit } from './catalogue';

export interface FoundBackup {
  fqdn: string;
  name: string;
  started: number;
  finished?: number;
  differential: boolean;
}

const META_FILES = new Set(['schema.cql', 'tokenmap.json', 'manifest.json', 'differential', 'incremental', 'server_version.json']);

/** Node backups found under the prefix, by one listing (it includes the data objects: build-index is a repair, not a routine). */
export async function findNodeBackups(storage: Storage, prefix: string): Promise<FoundBackup[]> {
  const p = prefix ? `${prefix}/` : '';
  const meta = new Map<string, Map<string, Date>>();
  for await (const o of storage.list(p)) {
    const parts = o.key.slice(p.length).split('/');
    if (parts.length !== 4 || parts[0] === 'index' || parts[2] !== 'meta' || !META_FILES.has(parts[3])) continue;
    const id = `${parts[0]}/${parts[1]}`;
    const files = meta.get(id) ?? new Map<string, Date>();
    files.set(parts[3], o.lastModified);
    meta.set(id, files);
  }
  const out: FoundBackup[] = [];
  for (const [id, files] of meta) {
    const schema = files.get('schema.cql');
    if (!schema || !files.has('tokenmap.json')) continue;
    const [fqdn, name] = id.split('/');
    const manifest = files.get('manifest.json');
    out.push({
      fqdn, name, started: Math.floor(schema.getTime() / 1000), differential: files.has('differential') || files.has('incremental'),
      ...(manifest ? { finished: Math.floor(manifest.getTime() / 1000) } : {}),
    });
  }
  return out.sort((a, b) => a.started - b.started || (a.fqdn < b.fqdn ? -1 : 1));
}

/** Writes the index entries of each found backup and each node's latest_backup; returns what it did, a line each. */
export async function writeIndex(storage: Storage, prefix: string, found: FoundBackup[], noop: boolean): Promise<string[]> {
  const lines = await mapLimit(found, 16, async (b) => {
    const l = new Layout(prefix, b.fqdn);
    const what = `${b.name} of ${b.fqdn}: ${b.differential ? 'differential' : 'full'}, ${b.finished !== undefined ? 'finished' : 'not finished'}`;
    if (noop) return `would index ${what}`;
    const copy = async (from: string, to: string) => {
      const bytes = await storage.getBytes(from);
      if (bytes && !(await storage.getBytes(to))?.equals(bytes)) await storage.putBytes(to, bytes);
    };
    await copy(l.meta(b.name, 'tokenmap.json'), l.index(b.name, 'tokenmap'));
    await copy(l.meta(b.name, 'schema.cql'), l.index(b.name, 'schema'));
    await replaceTimestamp(storage, l, b.name, 'started', b.started);
    if (b.differential) await storage.putBytes(l.index(b.name, 'differential'), 'differential');
    if (b.finished !== undefined) {
      await copy(l.meta(b.name, 'manifest.json'), l.index(b.name, 'manifest'));
      await replaceTimestamp(storage, l, b.name, 'finished', b.finished);
    }
    return `indexed ${what}`;
  });
  // Each node's latest finished backup.
  const latest = new Map<string, FoundBackup>();
  for (const b of found) if (b.finished !== undefined && (!latest.has(b.fqdn) || b.finished >= latest.get(b.fqdn)!.finished!)) latest.set(b.fqdn, b);
  for (const b of latest.values()) {
    const l = new Layout(prefix, b.fqdn);
    if (noop) {
      lines.push(`would set the latest backup of ${b.fqdn} to ${b.name}`);
      continue;
    }
    const tokenmap = await storage.getBytes(l.meta(b.name, 'tokenmap.json'));
    if (tokenmap) await storage.putBytes(l.latest('tokenmap.json'), tokenmap);
    await storage.putBytes(l.latest('backup_name.txt'), b.name);
    lines.push(`latest backup of ${b.fqdn}: ${b.name}`);
  }
  return lines;
}
