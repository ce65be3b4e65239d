/**
 * The token ring as one node sees it: every node of every datacenter with its tokens, read from
 * system.local and system.peers_v2 of that one node. Tokens stay exact: Murmur3 tokens reach ±2^63
 * and RandomPartitioner tokens 2^127, far beyond a double, so they are kept as bigint.
 */
import { Client, types } from 'cassandra-driver';

export interface RingNode {
  /** The node's RPC address (what clients and Medusa's tokenmap use). */
  address: string;
  hostId: string;
  datacenter: string;
  rack: string;
  releaseVersion: string;
  tokens: bigint[];
  /** Whether the driver sees the node up. */
  isUp: boolean;
}

interface RingRow {
  get(name: string): unknown;
}

function toNode(row: RingRow, addressColumn: string): RingNode {
  const address = row.get(addressColumn) as types.InetAddress | null;
  const tokens = (row.get('tokens') as string[] | null) ?? [];
  return {
    address: address?.toString() ?? '',
    hostId: String(row.get('host_id') ?? ''),
    datacenter: String(row.get('data_center') ?? ''),
    rack: String(row.get('rack') ?? ''),
    releaseVersion: String(row.get('release_version') ?? ''),
    tokens: tokens.map((t) => BigInt(t)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    isUp: false,
  };
}

/** Reads the ring through one coordinator (both tables from the same node, so the view is consistent). */
export async function readTokenRing(client: Client): Promise<RingNode[]> {
  const host = client.hosts.values().find((h) => h.isUp());
  if (!host) throw new Error('no Cassandra node is up to read the token ring from');
  const options = { host, prepare: false };
  const local = await client.execute('SELECT rpc_address, host_id, data_center, rack, release_version, tokens FROM system.local', [], options);
  const peers = await client.execute('SELECT native_address, host_id, data_center, rack, release_version, tokens FROM system.peers_v2', [], options);
  const nodes = [...local.rows.map((r) => toNode(r, 'rpc_address')), ...peers.rows.map((r) => toNode(r, 'native_address'))];
  for (const n of nodes) n.isUp = client.hosts.values().some((h) => h.address.split(':')[0] === n.address && h.isUp());
  return nodes.sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));
}
