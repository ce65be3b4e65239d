/**
 * The sandbox cluster is real Cassandra, reached the way the product will reach it: nodetool over
 * SSH on each host, CQL through cassandra-driver.
 */
import { Client as CqlClient } from 'cassandra-driver';
import { Client as SshClient } from 'ssh2';
import { checksumAll, tableChecksum, TABLES } from '../../sandbox/data';
import { balancedTokens, cqlClusterClient } from '../../sandbox/parts/cassandra';
import { loadSettings } from '../../sandbox/settings';
import { describeSchema } from '../../src/cassandra/schema';
import { readTokenRing } from '../../src/cassandra/token-ring';
import { connectSsh, execCommand, ExecResult } from '../../src/nodes/ssh/connect';
import { sandbox, uniqueId } from '../support/env';

const hosts = () => sandbox('SANDBOX_SSH_HOSTS').split(',');
const ssh = new Map<string, SshClient>();
let cql: CqlClient;

async function onHost(host: string, command: string): Promise<ExecResult> {
  const r = await execCommand(ssh.get(host)!, command);
  if (r.code !== 0) throw new Error(`${host}: ${command} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

beforeAll(async () => {
  for (const host of hosts()) {
    ssh.set(host, await connectSsh({
      host, port: Number(sandbox('SANDBOX_SSH_PORT')), username: 'root',
      keyFile: sandbox('SANDBOX_SSH_KEY'), knownHostsFile: sandbox('SANDBOX_SSH_KNOWN_HOSTS'),
    }));
  }
  cql = cqlClusterClient(loadSettings());
  await cql.connect();
}, 60_000);

afterAll(async () => {
  for (const c of ssh.values()) c.end();
  await cql?.shutdown();
});

test('nodetool over SSH, on every host, shows every node Up/Normal', async () => {
  for (const host of hosts()) {
    const { stdout } = await onHost(host, 'nodetool status');
    const up = stdout.split('\n').filter((l) => /^UN\s/.test(l)).map((l) => l.split(/\s+/)[1]).sort();
    expect(up).toEqual([...hosts()].sort());
  }
});

test('each host is its own node: cassandra.yaml at the usual path names the host, and the data directory is its own', async () => {
  for (const host of hosts()) {
    const { stdout } = await onHost(host, "grep -E '^(listen_address|rpc_address|cluster_name):' /etc/cassandra/cassandra.yaml");
    expect(stdout).toContain(`listen_address: ${host}`);
    expect(stdout).toContain(`rpc_address: ${host}`);
    expect(stdout).toContain(`cluster_name: '${loadSettings().clusterName}'`);
    const ids = await onHost(host, "nodetool info | grep '^ID'");
    const local = await cql.execute('SELECT host_id FROM system.local', [], { host: cql.hosts.values().find((h) => h.address.startsWith(`${host}:`)) });
    expect(ids.stdout).toContain(String(local.rows[0].host_id));
  }
});

test('the sample data is on disk as SSTables, secondary-index SSTables included', async () => {
  for (const host of hosts()) {
    const { stdout } = await onHost(host, 'cd /var/lib/cassandra/data && find shop inventory metrics -name "*-Data.db" -not -path "*/snapshots/*" | sort');
    // shop is RF 3: every node holds both tables and the index.
    expect(stdout).toMatch(/^shop\/customers-[0-9a-f]{32}\/nb-\d+-big-Data\.db$/m);
    expect(stdout).toMatch(/^shop\/customers-[0-9a-f]{32}\/\.customers_by_country\/nb-\d+-big-Data\.db$/m);
    expect(stdout).toMatch(/^shop\/orders-[0-9a-f]{32}\/nb-\d+-big-Data\.db$/m);
  }
  const counts = await checksumAll(cql);
  expect(Object.fromEntries(Object.entries(counts).map(([t, c]) => [t, c.rows]))).toEqual({
    'shop.customers': 2000, 'shop.orders': 5000, 'metrics.readings': 6000, 'inventory.items': 2500,
  });
});

test('nodetool snapshot over SSH snapshots that node only, and clearsnapshot removes it', async () => {
  const [first, ...others] = hosts();
  const tag = uniqueId('medusa-probe');
  const findSnapshots = `find /var/lib/cassandra/data -type d -path "*/snapshots/${tag}" | sort`;
  const out = await onHost(first, `nodetool snapshot -t ${tag}`);
  expect(out.stdout).toContain(`Snapshot directory: ${tag}`);
  const dirs = (await onHost(first, findSnapshots)).stdout.trim().split('\n');
  expect(dirs).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^/var/lib/cassandra/data/shop/customers-[0-9a-f]{32}/snapshots/${tag}$`))]));
  const files = (await onHost(first, `ls -A ${dirs.find((d) => d.includes('/shop/customers-'))}`)).stdout.split('\n');
  expect(files).toEqual(expect.arrayContaining(['manifest.json', 'schema.cql', '.customers_by_country', expect.stringMatching(/-big-Data\.db$/)]));
  for (const other of others) expect((await onHost(other, findSnapshots)).stdout).toBe('');
  expect((await onHost(first, 'nodetool listsnapshots')).stdout).toContain(tag);

  await onHost(first, `nodetool clearsnapshot -t ${tag}`);
  expect((await onHost(first, findSnapshots)).stdout).toBe('');
  expect((await onHost(first, 'nodetool listsnapshots')).stdout).not.toContain(tag);
});

test('a failing nodetool call gives a non-zero exit and its error text over SSH', async () => {
  const r = await execCommand(ssh.get(hosts()[0])!, 'nodetool clearsnapshot');
  expect(r.code).not.toBe(0);
  expect(r.stdout + r.stderr).toMatch(/Specify snapshot name or --all/);
});

test('DESCRIBE SCHEMA through cassandra-driver returns the sample keyspaces, their tables, index and type', async () => {
  const schema = await describeSchema(cql);
  const names = schema.map((e) => `${e.type} ${e.keyspace}.${e.name}`);
  for (const expected of ['keyspace shop.shop', 'table shop.customers', 'index shop.customers_by_country', 'table shop.orders',
    'keyspace metrics.metrics', 'table metrics.readings', 'keyspace inventory.inventory', 'type inventory.dimensions', 'table inventory.items']) {
    expect(names).toContain(expected);
  }
  expect(schema.find((e) => e.name === 'metrics')?.statement).toMatch(/'replication_factor': '1'/);
  expect(names.some((n) => n.includes('system'))).toBe(false);
});

test('the token ring read through the driver has every node with its exact tokens', async () => {
  const ring = await readTokenRing(cql);
  const expected = balancedTokens(hosts().length);
  expect(ring.map((n) => n.address)).toEqual(hosts());
  ring.forEach((node, i) => {
    expect(node.tokens).toEqual([expected[i]]);
    expect(node.datacenter).toBe('datacenter1');
    expect(node.rack).toBe('rack1');
    expect(node.releaseVersion).toMatch(/^5\.0\.\d+$/);
    expect(node.hostId).toMatch(/^[0-9a-f-]{36}$/);
  });
  // Beyond 2^53: a double would have rounded these.
  expect(ring.map((n) => n.tokens[0].toString())).toEqual(expected.map(String));
  expect(ring[0].tokens[0]).toBe(-9223372036854775808n);
});

test('the table checksum is order-independent and sees a single changed value', async () => {
  const ks = uniqueId('probe').replace(/-/g, '_');
  await cql.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}`);
  await cql.execute(`CREATE TABLE ${ks}.t (k int, c int, v text, PRIMARY KEY (k, c))`);
  const insert = `INSERT INTO ${ks}.t (k, c, v) VALUES (?, ?, ?)`;
  const rows = Array.from({ length: 300 }, (_, i) => [i % 17, i, `value ${i}`]);
  for (const r of rows) await cql.execute(insert, r, { prepare: true });
  const before = await tableChecksum(cql, `${ks}.t`);
  expect(before.rows).toBe(300);

  // The same rows written again in another order: same checksum.
  for (const r of [...rows].reverse()) await cql.execute(insert, r, { prepare: true });
  expect(await tableChecksum(cql, `${ks}.t`)).toEqual(before);

  await cql.execute(insert, [5, 5, 'value 5!'], { prepare: true });
  const changed = await tableChecksum(cql, `${ks}.t`);
  expect(changed.rows).toBe(300);
  expect(changed.sha256sum).not.toBe(before.sha256sum);
  await cql.execute(insert, [5, 5, 'value 5'], { prepare: true });
  expect(await tableChecksum(cql, `${ks}.t`)).toEqual(before);
  await cql.execute(`DROP KEYSPACE ${ks}`);
});

test('every sample table has a checksum', async () => {
  const sums = await checksumAll(cql);
  expect(Object.keys(sums)).toEqual([...TABLES]);
  for (const c of Object.values(sums)) expect(c.sha256sum).toMatch(/^[0-9a-f]{64}$/);
});
