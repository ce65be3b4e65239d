/** What backups need from a node's cassandra.yaml (read on the node, parsed here). */
import { parse } from 'yaml';

export interface CassandraYaml {
  /** The single data_file_directories entry (Medusa, like us, supports exactly one). */
  dataDir: string;
  /** Address clients connect to: rpc_address, else listen_address. */
  rpcAddress?: string;
  nativePort: number;
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
  return {
    dataDir: dataDir.replace(/\/+$/, ''),
    rpcAddress: addr(y.rpc_address) ?? addr(y.listen_address),
    nativePort: Number(y.native_transport_port ?? 9042),
  };
}
