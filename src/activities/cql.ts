/** CQL sessions from the worker to one Cassandra node, with the credentials of the worker's medusa.ini. */
import { auth, Client, policies } from 'cassandra-driver';
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

