/**
 * The files of a snapshot, as found on the node with
 *   find <data>/*\/*\/snapshots/<tag> -type f -printf '%s\t%p\n'
 * turned into what Medusa backs up: every SSTable component of every table (secondary-index
 * sub-directories included) except the keyspace system_traces and Cassandra's own manifest.json
 * and schema.cql at the top of each snapshot directory. Pure code.
 */
export interface SnapshotFile {
  /** Absolute path on the node. */
  path: string;
  keyspace: string;
  /** The table directory, id included: `orders-872ded20e99c11f18bfa53140cb874ae`. */
  tableDir: string;
  /** `<ks>/<table_dir>[/.<index>]/<file>`: the key below the data root. */
  rel: string;
  size: number;
}

export interface SnapshotTable {
  keyspace: string;
  tableDir: string;
}

export interface SnapshotListing {
  files: SnapshotFile[];
  /** Every table snapshot directory, also those with no SSTable (Medusa lists them with no objects). */
  tables: SnapshotTable[];
}

export const EXCLUDED_KEYSPACES = ['system_traces'];
const NEVER_BACKED_UP = ['manifest.json', 'schema.cql'];

export function parseSnapshotFind(output: string, dataDir: string, tag: string): SnapshotListing {
  const root = dataDir.replace(/\/+$/, '') + '/';
  const files: SnapshotFile[] = [];
  const tables = new Map<string, SnapshotTable>();
  for (const line of output.split('\n')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    const size = Number(line.slice(0, tab));
    const path = line.slice(tab + 1);
    if (tab < 1 || !Number.isInteger(size) || !path.startsWith(root)) throw new Error(`unexpected line from find: ${JSON.stringify(line)}`);
    const parts = path.slice(root.length).split('/');
    // <ks>/<table_dir>/snapshots/<tag>/<file> or …/<tag>/.<index>/<file>
    if (parts.length < 5 || parts[2] !== 'snapshots' || parts[3] !== tag) continue;
    const [keyspace, tableDir] = parts;
    if (EXCLUDED_KEYSPACES.includes(keyspace)) continue;
    tables.set(`${keyspace}/${tableDir}`, { keyspace, tableDir });
    const inner = parts.slice(4);
    if (inner.length === 1 && NEVER_BACKED_UP.includes(inner[0])) continue;
    files.push({ path, keyspace, tableDir, rel: [keyspace, tableDir, ...inner].join('/'), size });
  }
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return {
    files: files.sort((a, b) => byName(a.rel, b.rel)),
    tables: [...tables.values()].sort((a, b) => byName(`${a.keyspace}/${a.tableDir}`, `${b.keyspace}/${b.tableDir}`)),
  };
}
