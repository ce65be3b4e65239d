/** CQL sessions from the worker to one Cassandra node, with the credentials of the worker's medusa.ini. */
import { auth, Client, policies } from 'cassandra-driver';
import { reverse } from 'node:dns/promises';
import { CassandraConfig } from '../config/medusa-config';

/** A session that talks to this node only (no other host is contacted, no local datacenter needed). */
export function cqlClient(c: CassandraConfig, address: string, port: number): Client {
  return new Client({
    contactPoints: [`${address}:${port}`],
    policies: { loadBalancing: new policies.loadBalancing.AllowListPolicy(new policies.loadBalancing.RoundRobinPolicy(), [`${address}:${port}`]) },
    authProvider: c.cqlUsername ? new auth.PlainTextAuthProvider(c.cqlUsername, c.cqlPassword ?? '') : undefined,
    protocolOptions: { port },
    socketOptions: { connectTimeout: 10_000, readTimeout: 60_000 },
  });
}

/** The name Medusa gives a node: its address, or with resolve_ip_addresses its reverse-DNS name where there is one. */
export async function fqdnOf(address: string, resolve: boolean): Promise<string> {
  if (!resolve) return address;
  const names = await reverse(address).catch(() => [] as string[]);
  return names[0] && names[0] !== 'localhost' ? names[0] : address;
}
