/** What backups need from a node's cassandra.yaml (read on the node, parsed here). */
import { parse } from 'yaml';

export interface CassandraYaml {
  /** The single data_file_directories entry (Medusa, like us, supports exactly one). */
  dataDir: string;
  /** Address clients connect to: rpc_address, else listen_address. */
  rpcAddress?: string;
  nativePort: number;
  /** commitlog_directory and saved_caches_directory; by default next to the data directory, as Cassandra puts them. */
  commitlogDir: string;
  savedCachesDir: string;
}

export function parseCassandraYaml(text: string, file: string): CassandraYaml {
  const y = (parse(text) ?? {}) as Record<string, unknown>;
  const dirs = y.data_file_directories as unknown;
  let dataDir = '/var/lib/cassandra/data';
  if (Array.isArray(dirs)) {
    if (dirs.length !== 1) throw new Error(`${file}: data_file_directories has ${dirs.length} entries; exactly one is supported`);
    dataDir = String(dirs[0]);
  } else if (dirs !== undefined && dirs !== null) {
    throw new Error(`${file}: data_file_directories is not a list`);
  }
  const addr = (v: unknown) => (typeof v === 'string' && v !== '' && v !== '0.0.0.0' ? v : undefined);
  const dir = (v: unknown, name: string) => (typeof v === 'string' && v !== '' ? v.replace(/\/+$/, '') : `${parentOf(dataDir)}/${name}`);
  return {
    commitlogDir: dir(y.commitlog_directory, 'commitlog'),
    savedCachesDir: dir(y.saved_caches_directory, 'saved_caches'),
    dataDir: dataDir.replace(/\/+$/, ''),
    rpcAddress: addr(y.rpc_address) ?? addr(y.listen_address),
    nativePort: Number(y.native_transport_port ?? 9042),
  };
}

function parentOf(dir: string): string {
  const d = dir.replace(/\/+$/, '');
  const at = d.lastIndexOf('/');
  return at <= 0 ? '' : d.slice(0, at);
}
