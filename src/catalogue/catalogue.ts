/**
 * The backup catalogue as Medusa reads it (reference/medusa.md §1.2–1.3): cluster backups are the
 * node backups of the index that share a name; a node backup exists iff its `tokenmap_<fqdn>.json`
 * index entry does; start and finish come from the `started_`/`finished_` entry names, else from
 * the meta objects' last-modified times.
 *
 * Why it is fast where Medusa's listing is slow (their #522): the whole index is read with ONE
 * listing, and start/finish times come from the entry names in it. Objects are read only where the
 * answer needs them (a tokenmap per backup for its node count, manifests only for sizes), through a
 * bounded pool, each at most once. Reading never writes (Medusa deletes index-only entries while
 * listing; a read-only command here stays read-only).
 */
import { Layout } from '../plan/layout';
import { ManifestSection, parseManifest } from '../plan/manifest';
import { parseTokenMap, TokenMap } from '../plan/tokenmap';
import { Storage } from '../storage/storage';
import { mapLimit } from '../shared/map-limit';

export { mapLimit };
import { IndexEntry, parseIndexKey } from './index-names';

/** A corrupt or missing catalogue object: one line naming it. */
export class CatalogueError extends Error {
  override name = 'CatalogueError';
}

export interface ServerVersion {
  server_type: string;
  release_version: string;
}

export class NodeBackup {
  readonly layout: Layout;
  private cache = new Map<string, Promise<unknown>>();

  constructor(private readonly storage: Storage, readonly prefix: string, readonly name: string, readonly fqdn: string, private readonly entries: IndexEntry[]) {
    this.layout = new Layout(prefix, fqdn);
  }

  private once<T>(what: string, load: () => Promise<T>): Promise<T> {
    if (!this.cache.has(what)) this.cache.set(what, load());
    return this.cache.get(what) as Promise<T>;
  }

  /** This node backup's own index entries (exact name and fqdn), as listed: what deleting it removes from the index. */
  get indexEntries(): readonly IndexEntry[] {
    return this.entries;
  }

  get differential(): boolean {
    return this.entries.some((e) => e.kind === 'differential' || e.kind === 'incremental');
  }

  /** Where this backup's data objects live: the node's pool (differential) or the backup's own folder (full). */
  get dataRoot(): string {
    return this.layout.dataRoot(this.differential ? 'differential' : 'full', this.name);
  }

  private epoch(kind: 'started' | 'finished'): number | undefined {
    const e = this.entries.filter((x) => x.kind === kind);
    return e.length ? Math.max(...e.map((x) => x.epoch!)) : undefined;
  }

  /** Epoch seconds; the started_ entry, else the schema's last-modified time. */
  started(): Promise<number> {
    return this.once('started', async () => {
      const fromIndex = this.epoch('started');
      if (fromIndex !== undefined) return fromIndex;
      const schema = await this.storage.head(this.layout.meta(this.name, 'schema.cql'));
      if (!schema) throw new CatalogueError(`backup ${this.name} of ${this.fqdn}: neither a started_ index entry nor ${this.layout.meta(this.name, 'schema.cql')}`);
      return Math.floor(schema.lastModified.getTime() / 1000);
    });
  }

  /** Epoch seconds, or null while unfinished; the finished_ entry, else the manifest's last-modified time. */
  finished(): Promise<number | null> {
    return this.once('finished', async () => {
      const fromIndex = this.epoch('finished');
      if (fromIndex !== undefined) return fromIndex;
      const manifest = await this.storage.head(this.layout.meta(this.name, 'manifest.json'));
      return manifest ? Math.floor(manifest.lastModified.getTime() / 1000) : null;
    });
  }

  tokenmap(): Promise<TokenMap> {
    return this.once('tokenmap', async () => {
      const key = this.layout.index(this.name, 'tokenmap');
      const bytes = await this.storage.getBytes(key);
      if (!bytes) throw new CatalogueError(`tokenmap ${key} is gone`);
      try {
        return parseTokenMap(bytes.toString('utf8'));
      } catch (err) {
        throw new CatalogueError(`tokenmap ${key} is not a valid tokenmap: ${(err as Error).message.split('\n')[0]}`);
      }
    });
  }

  /** The manifest (meta copy, else the index copy); undefined when the node has not finished. */
  manifest(): Promise<ManifestSection[] | undefined> {
    return this.once('manifest', async () => {
      for (const key of [this.layout.meta(this.name, 'manifest.json'), this.layout.index(this.name, 'manifest')]) {
        const bytes = await this.storage.getBytes(key);
        if (!bytes) continue;
        try {
          return parseManifest(bytes.toString('utf8'));
        } catch (err) {
          throw new CatalogueError(`manifest ${key} is corrupt: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      return undefined;
    });
  }

  async size(): Promise<{ size: number; numObjects: number }> {
    const objects = (await this.manifest() ?? []).flatMap((s) => s.objects);
    return { size: objects.reduce((a, o) => a + o.size, 0), numObjects: objects.length };
  }

  serverVersion(): Promise<ServerVersion> {
    return this.once('serverVersion', async () => {
      const bytes = await this.storage.getBytes(this.layout.meta(this.name, 'server_version.json'));
      try {
        if (bytes) return JSON.parse(bytes.toString('utf8')) as ServerVersion;
      } catch {
        // Medusa's fallback below.
      }
      return { server_type: 'cassandra', release_version: 'unknown' };
    });
  }
}

/** Medusa's `ClusterBackup.to_json_dict()`, key for key. */
export interface ClusterBackupJson {
  name: string;
  started: number;
  finished: number | null;
  backup_type: 'differential' | 'full';
  size: number;
  num_objects: number;
  completed_nodes: number;
  nodes: NodeJson[];
  incomplete_nodes: number;
  incomplete_nodes_list: NodeJson[];
  missing_nodes: number;
  missing_nodes_list: string[];
}

export interface NodeJson {
  fqdn: string;
  started: number;
  finished: number | null;
  size: number;
  num_objects: number;
  server_type: string;
  release_version: string;
}

export class ClusterBackup {
  constructor(readonly name: string, readonly nodes: NodeBackup[]) {}

  node(fqdn: string): NodeBackup | undefined {
    return this.nodes.find((n) => n.fqdn === fqdn);
  }

  async started(): Promise<number> {
    return Math.min(...(await Promise.all(this.nodes.map((n) => n.started()))));
  }

  /** The node backup that started first: its tokenmap and mode are the cluster backup's. */
  async first(): Promise<NodeBackup> {
    const starts = await Promise.all(this.nodes.map((n) => n.started()));
    return this.nodes[starts.indexOf(Math.min(...starts))];
  }

  async tokenmap(): Promise<TokenMap> {
    return (await this.first()).tokenmap();
  }

  async backupType(): Promise<'differential' | 'full'> {
    return (await this.first()).differential ? 'differential' : 'full';
  }

  async missingNodes(): Promise<string[]> {
    const have = new Set(this.nodes.map((n) => n.fqdn));
    return Object.keys(await this.tokenmap()).filter((f) => !have.has(f)).sort();
  }

  async completeNodes(): Promise<NodeBackup[]> {
    const f = await Promise.all(this.nodes.map((n) => n.finished()));
    return this.nodes.filter((_, i) => f[i] !== null);
  }

  async incompleteNodes(): Promise<NodeBackup[]> {
    const f = await Promise.all(this.nodes.map((n) => n.finished()));
    return this.nodes.filter((_, i) => f[i] === null);
  }

  async finished(): Promise<number | null> {
    if ((await this.missingNodes()).length > 0) return null;
    const f = await Promise.all(this.nodes.map((n) => n.finished()));
    return f.every((x) => x !== null) ? Math.max(...(f as number[])) : null;
  }

  async isComplete(): Promise<boolean> {
    return (await this.finished()) !== null;
  }

  async toJson(): Promise<ClusterBackupJson> {
    const done: NodeJson[] = [];
    const undone: NodeJson[] = [];
    for (const n of this.nodes) {
      const [started, finished, version] = await Promise.all([n.started(), n.finished(), n.serverVersion()]);
      const { size, numObjects } = finished !== null ? await n.size() : { size: 0, numObjects: 0 };
      (finished !== null ? done : undone).push({
        fqdn: n.fqdn, started, finished, size, num_objects: numObjects, server_type: version.server_type, release_version: version.release_version,
      });
    }
    const missing = await this.missingNodes();
    return {
      name: this.name, started: await this.started(), finished: await this.finished(), backup_type: await this.backupType(),
      size: done.reduce((a, n) => a + n.size, 0), num_objects: done.reduce((a, n) => a + n.num_objects, 0),
      completed_nodes: done.length, nodes: done, incomplete_nodes: undone.length, incomplete_nodes_list: undone,
      missing_nodes: missing.length, missing_nodes_list: missing,
    };
  }
}

/**
 * Every cluster backup of the catalogue under `prefix`, from one listing of the index, sorted by
 * name; with `onlyName`, the listing covers that backup's folder only (`…/<name>/`: exact, so `b1`
 * never picks up `b10`).
 */
export async function readCatalogue(storage: Storage, prefix: string, onlyName?: string): Promise<ClusterBackup[]> {
  const byName = new Map<string, Map<string, IndexEntry[]>>();
  const root = `${prefix ? `${prefix}/` : ''}index/backup_index/${onlyName !== undefined ? `${onlyName}/` : ''}`;
  for await (const o of storage.list(root)) {
    const e = parseIndexKey(o.key, prefix);
    if (!e) continue;
    const nodes = byName.get(e.backupName) ?? new Map<string, IndexEntry[]>();
    byName.set(e.backupName, nodes);
    nodes.set(e.fqdn, [...(nodes.get(e.fqdn) ?? []), e]);
  }
  const out: ClusterBackup[] = [];
  for (const [name, nodes] of [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    // A node backup exists in the index iff its tokenmap entry does.
    const present = [...nodes].filter(([, entries]) => entries.some((e) => e.kind === 'tokenmap'));
    if (present.length) out.push(new ClusterBackup(name, present.map(([fqdn, entries]) => new NodeBackup(storage, prefix, name, fqdn, entries))));
  }
  return out;
}

/** One cluster backup by exact name; a one-line error when there is none. */
export async function getClusterBackup(storage: Storage, prefix: string, name: string): Promise<ClusterBackup> {
  const found = (await readCatalogue(storage, prefix, name)).find((b) => b.name === name);
  if (!found) throw new CatalogueError(`no backup named ${name} in ${storage.description}${prefix ? ` (prefix ${prefix})` : ''}`);
  return found;
}
