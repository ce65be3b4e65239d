/**
 * `backupNode` on the real 3-node cluster, over real SSH, into real storage (local directory and
 * the sandbox S3 server): Medusa's layout and JSON, differential and full, snapshot handling,
 * refusals and failures.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { Client as CqlClient } from 'cassandra-driver';
import { cqlClusterClient } from '../../sandbox/parts/cassandra';
import { loadSettings } from '../../sandbox/settings';
import { Layout } from '../../src/plan/layout';
import { parseManifest } from '../../src/plan/manifest';
import { parseTokenMap } from '../../src/plan/tokenmap';
import { Storage } from '../../src/storage/storage';
import { backupNode, BackupNodeInput, BackupNodeResult } from '../../src/workflows';
import { Harness, listKeys, sandboxConfig, startHarness, StorageKind } from '../support/backup-harness';
import { uniqueId } from '../support/env';
import { onNode as onNodeAt, snapshotFiles as snapshotFilesAt } from '../support/nodes';

const NODE = '127.0.0.2';
let h: Harness;
let cql: CqlClient;

const onNode = (command: string, host = NODE) => onNodeAt(host, command);
const snapshotFiles = (tag: string, host = NODE) => snapshotFilesAt(host, tag);

async function manifestOf(storage: Storage, layout: Layout, name: string) {
  return parseManifest((await storage.getBytes(layout.meta(name, 'manifest.json')))!.toString());
}

beforeAll(async () => {
  h = await startHarness();
  cql = cqlClusterClient(loadSettings());
  await cql.connect();
  await cql.execute("CREATE KEYSPACE IF NOT EXISTS backup_it WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}");
  await cql.execute('CREATE TABLE IF NOT EXISTS backup_it.events (id int PRIMARY KEY, body text)');
}, 120_000);

afterAll(async () => {
  await cql?.shutdown();
  await h?.close();
});

describe.each<StorageKind>(['local', 's3'])('on %s storage', (kind) => {
  const prefix = uniqueId('it').replace(/-/g, '');
  const layout = new Layout(prefix, NODE);
  let taskQueue: string;
  let storage: Storage;
  const run = (input: Partial<BackupNodeInput> & { backupName: string }) => h.client.workflow.execute(backupNode, {
    taskQueue, workflowId: `${prefix}/${input.backupName}`, args: [{ fqdn: NODE, prefix, ...input }], workflowExecutionTimeout: '5 minutes',
  });

  beforeAll(async () => {
    ({ taskQueue, storage } = await h.worker(sandboxConfig(kind, { prefix })));
  });

  test('a differential backup writes Medusa\'s meta files, index entries and a manifest of every snapshot file with its size', async () => {
    const name = 'first';
    const r = await run({ backupName: name, keepSnapshot: true });
    const onDisk = await snapshotFiles(`medusa-${name}`);
    expect(onDisk.size).toBeGreaterThan(100);
    const manifest = await manifestOf(storage, layout, name);
    const listed = new Map(manifest.flatMap((s) => s.objects.map((o) => [o.path.slice(layout.dataRoot('differential', name).length), o.size] as const)));
    expect(listed).toEqual(onDisk);
    // Every table of every keyspace but system_traces, secondary index files inside their table.
    expect(manifest.some((s) => s.keyspace === 'system_traces')).toBe(false);
    const customers = manifest.find((s) => s.keyspace === 'shop' && s.columnfamily.startsWith('customers-'))!;
    expect(customers.objects.some((o) => o.path.includes('/.customers_by_country/nb-'))).toBe(true);
    for (const o of manifest.flatMap((s) => s.objects)) expect(o.path.startsWith(`${prefix}/${NODE}/data/`)).toBe(true);
    if (kind === 's3') for (const o of manifest.flatMap((s) => s.objects)) expect(o.MD5).toMatch(/^[0-9a-f]{32}$/);
    expect(r).toMatchObject({ mode: 'differential', files: onDisk.size, uploadedFiles: onDisk.size, keptFiles: 0, snapshotCleared: false });

    const keys = await listKeys(storage, `${prefix}/`);
    const indexed = keys.filter((k) => k.startsWith(`${prefix}/index/`)).map((k) => k.replace(/_\d+\.timestamp$/, '_<epoch>.timestamp'));
    expect(indexed).toEqual([
      `${prefix}/index/backup_index/${name}/differential_${NODE}`,
      `${prefix}/index/backup_index/${name}/finished_${NODE}_<epoch>.timestamp`,
      `${prefix}/index/backup_index/${name}/manifest_${NODE}.json`,
      `${prefix}/index/backup_index/${name}/schema_${NODE}.cql`,
      `${prefix}/index/backup_index/${name}/started_${NODE}_<epoch>.timestamp`,
      `${prefix}/index/backup_index/${name}/tokenmap_${NODE}.json`,
      `${prefix}/index/latest_backup/${NODE}/backup_name.txt`,
      `${prefix}/index/latest_backup/${NODE}/tokenmap.json`,
    ]);
    const text = async (k: string) => (await storage.getBytes(k))!.toString();
    expect(await text(layout.meta(name, 'differential'))).toBe('differential');
    expect(await text(layout.meta(name, 'server_version.json'))).toMatch(/^\{"server_type": "cassandra", "release_version": "5\.0\.\d+"\}$/);
    expect(await text(layout.index(name, 'manifest'))).toBe(await text(layout.meta(name, 'manifest.json')));
    expect(await text(layout.latest('backup_name.txt'))).toBe(name);
    const tokenmap = parseTokenMap(await text(layout.meta(name, 'tokenmap.json')));
    expect(Object.keys(tokenmap)).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    expect(tokenmap['127.0.0.2'].tokens).toEqual([-9223372036854775808n]);
    expect(await text(layout.meta(name, 'schema.cql'))).toMatch(/CREATE TABLE shop\.customers/);
    const started = keys.find((k) => k.includes(`started_${NODE}_`))!;
    expect(await text(started)).toBe(/_(\d+)\.timestamp$/.exec(started)![1]);

    // --keep-snapshot kept it; clear it by hand.
    await onNode(`nodetool clearsnapshot -t medusa-${name}`);
  });

  test('after more writes and a flush, the next differential backup sends only the new SSTables and lists them all', async () => {
    const before = await manifestOf(storage, layout, 'first');
    for (let i = 0; i < 200; i++) await cql.execute('INSERT INTO backup_it.events (id, body) VALUES (?, ?)', [i, `${kind} event ${i}`], { prepare: true });
    await onNode('nodetool flush backup_it');
    const name = 'second';
    const r: BackupNodeResult = await run({ backupName: name });
    const after = await manifestOf(storage, layout, name);
    const beforePaths = new Set(before.flatMap((s) => s.objects.map((o) => o.path)));
    const added = after.flatMap((s) => s.objects).filter((o) => !beforePaths.has(o.path));
    expect(added.some((o) => o.path.includes('/backup_it/events-'))).toBe(true);
    expect(r.uploadedFiles).toBe(added.length);
    expect(r.uploadedBytes).toBe(added.reduce((a, o) => a + o.size, 0));
    expect(r.keptFiles).toBe(r.files - added.length);
    expect(r.keptFiles).toBeGreaterThan(100);
    expect(r.snapshotCleared).toBe(true);
    expect(await snapshotFiles(`medusa-${name}`)).toEqual(new Map());
    // The manifest still lists every file: the kept ones point at the pool objects of the first backup.
    expect(after.flatMap((s) => s.objects).length).toBe(r.files);
    expect(await listKeys(storage, `${prefix}/${NODE}/${name}/`)).toEqual(
      ['differential', 'manifest.json', 'schema.cql', 'server_version.json', 'tokenmap.json'].map((f) => `${prefix}/${NODE}/${name}/meta/${f}`));
  });

  test('a full backup puts every file under its own folder and sends them all', async () => {
    const name = 'full1';
    const r = await run({ backupName: name, mode: 'full' });
    const manifest = await manifestOf(storage, layout, name);
    const objects = manifest.flatMap((s) => s.objects);
    expect(objects.length).toBe(r.files);
    for (const o of objects) expect(o.path.startsWith(`${prefix}/${NODE}/${name}/data/`)).toBe(true);
    expect(r).toMatchObject({ mode: 'full', uploadedFiles: r.files, keptFiles: 0 });
    expect(await storage.head(layout.meta(name, 'differential'))).toBeUndefined();
    expect(await snapshotFiles(`medusa-${name}`)).toEqual(new Map());
  });

  test('a name that exists is refused before anything is written', async () => {
    const keysBefore = await listKeys(storage, `${prefix}/`);
    const err = await run({ backupName: 'first' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(`Backup first already exists for ${NODE}`);
    expect(await listKeys(storage, `${prefix}/`)).toEqual(keysBefore);
  });
});

test('a node whose nodetool fails gives a failed backup with the node\'s own error text, and leaves no snapshot', async () => {
  const prefix = uniqueId('it').replace(/-/g, '');
  const config = sandboxConfig('local', { prefix });
  config.cassandra.nodetoolPort = 7999; // nothing listens there: JMX unreachable
  const { taskQueue } = await h.worker(config);
  const err = await h.client.workflow.execute(backupNode, {
    taskQueue, workflowId: `${prefix}/broken`, args: [{ backupName: 'broken', fqdn: NODE, prefix }], workflowExecutionTimeout: '5 minutes',
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const message = String((err as WorkflowFailedError).cause?.message);
  expect(message).toContain(`${NODE}: snapshot: nodetool snapshot failed`);
  expect(message).toMatch(/7999|Connection refused/);
  expect(await snapshotFiles('medusa-broken')).toEqual(new Map());
}, 240_000);
