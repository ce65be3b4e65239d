/**
 * Realistic data for the sandbox cluster, and a content checksum per table.
 *
 * Three keyspaces: `shop` (RF 3: customers with a secondary index, orders with clustering
 * columns and a list), `metrics` (RF 1: time series with a composite partition key and a map) and
 * `inventory` (NetworkTopologyStrategy RF 2: a user-defined type). Rows come from a seeded PRNG,
 * so every load writes the same data; `generation` N > 0 adds a further, disjoint batch (for
 * differential backups). Everything is flushed so SSTables are on disk.
 *
 * The checksum reads a table over CQL (`SELECT JSON *`, all pages, consistency ALL), hashes each
 * row and adds the hashes modulo 2^256: independent of row order, sensitive to any change in any
 * value. Restore tests compare it before and after.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Client, concurrent, types } from 'cassandra-driver';
import { forEachRow } from '../src/cassandra/paging';
import { rmSync } from 'node:fs';
import { nodetool } from './parts/cassandra';
import { hostPath } from './parts/ssh-hosts';
import { hostAddress, SandboxSettings } from './settings';

export const SCHEMA = [
  "CREATE KEYSPACE IF NOT EXISTS shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}",
  'CREATE TABLE IF NOT EXISTS shop.customers (id uuid PRIMARY KEY, email text, name text, country text, created_at timestamp)',
  'CREATE INDEX IF NOT EXISTS customers_by_country ON shop.customers (country)',
  'CREATE TABLE IF NOT EXISTS shop.orders (customer_id uuid, placed_at timestamp, order_id uuid, amount decimal, items list<text>, status text, '
    + 'PRIMARY KEY ((customer_id), placed_at, order_id)) WITH CLUSTERING ORDER BY (placed_at DESC, order_id ASC)',
  "CREATE KEYSPACE IF NOT EXISTS metrics WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
  'CREATE TABLE IF NOT EXISTS metrics.readings (sensor text, day date, ts timestamp, value double, tags map<text, text>, PRIMARY KEY ((sensor, day), ts))',
  "CREATE KEYSPACE IF NOT EXISTS inventory WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 2}",
  'CREATE TYPE IF NOT EXISTS inventory.dimensions (width_mm int, height_mm int, depth_mm int)',
  'CREATE TABLE IF NOT EXISTS inventory.items (sku text PRIMARY KEY, title text, size frozen<dimensions>, price decimal, stock int)',
];

export const TABLES = ['shop.customers', 'shop.orders', 'metrics.readings', 'inventory.items'] as const;

/** A small deterministic PRNG (mulberry32), so every load writes the same rows. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uuidFrom(rand: () => number): types.Uuid {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) b[i] = Math.floor(rand() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return new types.Uuid(b);
}

const COUNTRIES = ['SE', 'FR', 'DE', 'JP', 'BR', 'US', 'IN', 'NG', 'AU', 'CA'];
const EPOCH = Date.UTC(2026, 0, 1);

export interface LoadOptions {
  /** 0: the base data set; N > 0: another batch with new keys (default 0). */
  generation?: number;
  /** Scales row counts (default 1: 2000 customers, 5000 orders, 6000 readings, 2500 items). */
  scale?: number;
}

export interface LoadResult {
  rows: Record<string, number>;
}

async function insertAll(client: Client, query: string, params: unknown[][]): Promise<void> {
  // Inserts are idempotent upserts: a batch that met a node still settling into the ring is simply sent again.
  for (let attempt = 1; ; attempt++) {
    const result = await concurrent.executeConcurrent(client, query, params, {
      concurrencyLevel: 32, raiseOnFirstError: false, executionProfile: 'load',
    });
    if (result.errors.length === 0) return;
    if (attempt >= 5) throw result.errors[0];
    await new Promise((r) => setTimeout(r, 2000 * attempt));
  }
}

export async function loadData(client: Client, o: LoadOptions = {}): Promise<LoadResult> {
  const gen = o.generation ?? 0;
  const scale = o.scale ?? 1;
  for (const statement of SCHEMA) await client.execute(statement);
  const rand = prng(1000 + gen);
  const n = (base: number) => Math.max(1, Math.round(base * scale));

  const customers = Array.from({ length: n(2000) }, (_, i) => {
    const k = gen * 1_000_000 + i;
    return [uuidFrom(rand), `user${k}@example.com`, `Customer ${k}`, COUNTRIES[Math.floor(rand() * COUNTRIES.length)], new Date(EPOCH + k * 60_000)];
  });
  await insertAll(client, 'INSERT INTO shop.customers (id, email, name, country, created_at) VALUES (?, ?, ?, ?, ?)', customers);

  const orders = Array.from({ length: n(5000) }, (_, i) => {
    const customer = customers[Math.floor(rand() * customers.length)][0];
    const items = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => `sku-${Math.floor(rand() * 2500)}`);
    return [customer, new Date(EPOCH + (gen * 1_000_000 + i) * 1000), uuidFrom(rand), types.BigDecimal.fromString((rand() * 500).toFixed(2)), items,
      rand() < 0.9 ? 'shipped' : 'pending'];
  });
  await insertAll(client, 'INSERT INTO shop.orders (customer_id, placed_at, order_id, amount, items, status) VALUES (?, ?, ?, ?, ?, ?)', orders);

  const readings = Array.from({ length: n(6000) }, (_, i) => {
    const sensor = `sensor-${gen}-${i % 40}`;
    const ts = EPOCH + Math.floor(i / 40) * 15 * 60_000;
    return [sensor, types.LocalDate.fromDate(new Date(ts)), new Date(ts), rand() * 100, { unit: 'celsius', site: `site-${i % 7}` }];
  });
  await insertAll(client, 'INSERT INTO metrics.readings (sensor, day, ts, value, tags) VALUES (?, ?, ?, ?, ?)', readings);

  const items = Array.from({ length: n(2500) }, (_, i) => [
    `sku-${gen > 0 ? `${gen}-` : ''}${i}`, `Item ${i}`,
    { width_mm: 10 + Math.floor(rand() * 500), height_mm: 10 + Math.floor(rand() * 500), depth_mm: 10 + Math.floor(rand() * 500) },
    types.BigDecimal.fromString((rand() * 100).toFixed(2)), Math.floor(rand() * 1000),
  ]);
  await insertAll(client, 'INSERT INTO inventory.items (sku, title, size, price, stock) VALUES (?, ?, ?, ?, ?)', items);

  return { rows: { 'shop.customers': customers.length, 'shop.orders': orders.length, 'metrics.readings': readings.length, 'inventory.items': items.length } };
}

/** Flushes memtables on every node so the data is in SSTables on disk. */
export function flushAll(s: SandboxSettings): void {
  for (let i = 0; i < s.hosts; i++) nodetool(s, i, ['flush']);
}

export interface TableChecksum {
  rows: number;
  /** Sum of the rows' SHA-256 modulo 2^256, as 64 hex digits. */
  sha256sum: string;
}

export async function tableChecksum(client: Client, table: string): Promise<TableChecksum> {
  let sum = 0n;
  const rows = await forEachRow(client, `SELECT JSON * FROM ${table}`, [], { fetchSize: 1000, prepare: true, consistency: types.consistencies.all }, (row) => {
    sum = (sum + BigInt(`0x${createHash('sha256').update(row['[json]'] as string).digest('hex')}`)) % 2n ** 256n;
  });
  return { rows, sha256sum: sum.toString(16).padStart(64, '0') };
}

export async function checksumAll(client: Client, tables: readonly string[] = TABLES): Promise<Record<string, TableChecksum>> {
  const out: Record<string, TableChecksum> = {};
  for (const t of tables) out[t] = await tableChecksum(client, t);
  return out;
}

/**
 * Bulk data for tests and benchmarks that need bytes rather than rows: keyspace `keyspace` (RF 1, so each node
 * holds its own share) with one table of random 1 MiB blobs, uncompressed (bytes on disk are the bytes written),
 * `mib` rows in all, flushed to SSTables on every node. With `node`, every row goes to that node (keys are picked by
 * the token ring), so that node alone holds `mib` MiB. Automatic compaction is off on the table, so its SSTables
 * stay as flushed while a benchmark backs them up again and again. {@link dropBlobs} removes it again, with the
 * snapshot Cassandra takes of a dropped table.
 */
export async function loadBlobs(client: Client, s: SandboxSettings, keyspace: string, mib: number, o: { node?: string } = {}): Promise<void> {
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.chunks (id int PRIMARY KEY, data blob) WITH compression = {'enabled': 'false'} `
    + "AND compaction = {'class': 'SizeTieredCompactionStrategy', 'enabled': 'false'}");
  await client.metadata.refreshKeyspace(keyspace);
  const owned = (id: number) => {
    if (!o.node) return true;
    const key = Buffer.alloc(4);
    key.writeInt32BE(id);
    return client.getReplicas(keyspace, key).some((h) => h.address.split(':')[0] === o.node);
  };
  const insert = `INSERT INTO ${keyspace}.chunks (id, data) VALUES (?, ?)`;
  let next = 0;
  let written = 0;
  const lane = async () => {
    while (written < mib) {
      const id = next++;
      if (!owned(id)) continue;
      written++;
      await client.execute(insert, [id, randomBytes(1024 * 1024)], { prepare: true, executionProfile: 'load' });
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
  flushAll(s);
}

export async function dropBlobs(client: Client, s: SandboxSettings, keyspace: string): Promise<void> {
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  // DROP leaves a snapshot of the data (auto_snapshot), which holds the disk space: gone with the keyspace's directory.
  for (let i = 0; i < s.hosts; i++) rmSync(hostPath(s, hostAddress(i), `/var/lib/cassandra/data/${keyspace}`), { recursive: true, force: true });
}
