/**
 * purgeBackups and deleteBackup on the real 3-node cluster: real cluster backups written into a
 * unique prefix, then purged — every node, exact names, referenced SSTables kept, unreferenced pool
 * files deleted only past the grace period, latest_backup moved, nothing deleted when a manifest
 * is corrupt, and a run interrupted by a killed worker finished by the next run.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { createActivityContext } from '../../src/activities/context';
import { readCatalogue } from '../../src/catalogue/catalogue';
import { MedusaConfig } from '../../src/config/medusa-config';
import { Layout } from '../../src/plan/layout';
import { Storage } from '../../src/storage/storage';
import { createWorker } from '../../src/worker';
import { backupCluster, BackupClusterInput, deleteBackup, DeleteBackupInput, DeletionResult, purgeBackups, PurgeBackupsInput } from '../../src/workflows';
import { Harness, listKeys, sandboxConfig, startHarness } from '../support/backup-harness';
import { lines, medusa } from '../support/cli';
import { sandbox, uniqueId } from '../support/env';
import { NODES } from '../support/nodes';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 120_000);
afterAll(async () => h?.close());

const DAY_MS = 86_400_000;

async function backup(taskQueue: string, input: BackupClusterInput) {
  const r = await h.client.workflow.execute(backupCluster, { taskQueue, workflowId: uniqueId('pcl'), args: [{ seedTarget: '127.0.0.2', ...input }], workflowExecutionTimeout: '10 minutes' });
  expect(r.nodes.map((n) => n.phase)).toEqual(['finished', 'finished', 'finished']);
}

const purge = (taskQueue: string, input: PurgeBackupsInput): Promise<DeletionResult> =>
  h.client.workflow.execute(purgeBackups, { taskQueue, workflowId: uniqueId('purge'), args: [input], workflowExecutionTimeout: '10 minutes' });
const del = (taskQueue: string, input: DeleteBackupInput): Promise<DeletionResult> =>
  h.client.workflow.execute(deleteBackup, { taskQueue, workflowId: uniqueId('delete'), args: [input], workflowExecutionTimeout: '10 minutes' });

/** Node backups in the catalogue, as `fqdn:name`. */
async function catalogue(storage: Storage, prefix: string): Promise<string[]> {
  return (await readCatalogue(storage, prefix)).flatMap((c) => c.nodes.map((n) => `${n.fqdn}:${n.name}`)).sort();
}

/** Every object every finished manifest names is there with its size (HEAD each one); returns how many. */
async function manifestsIntact(storage: Storage, prefix: string): Promise<number> {
  let n = 0;
  for (const c of await readCatalogue(storage, prefix)) {
    for (const node of c.nodes) {
      if ((await node.finished()) === null) continue;
      const manifest = await node.manifest();
      expect(manifest).toBeDefined();
      for (const o of manifest!.flatMap((s) => s.objects)) {
        const head = await storage.head(o.path);
        if (head?.size !== o.size) throw new Error(`${node.name} of ${node.fqdn}: ${o.path} is ${head ? `${head.size} bytes` : 'missing'}, manifest says ${o.size}`);
        n++;
      }
    }
  }
  return n;
}

function localPath(config: MedusaConfig, key: string): string {
  return join(config.storage.basePath!, config.storage.bucketName, key);
}

test('count-based purge on every node keeps the newest N and what they reference; unreferenced pool files go only past the grace period; a corrupt manifest stops it all', async () => {
  const prefix = uniqueId('pg').replace(/-/g, '');
  const config = sandboxConfig('local', { prefix });
  const { taskQueue, storage } = await h.worker(config);
  await backup(taskQueue, { backupName: 'c1', prefix, mode: 'full' });
  await backup(taskQueue, { backupName: 'c2', prefix });
  await backup(taskQueue, { backupName: 'c3', prefix });
  // Unreferenced pool files on every node: one written 30 days ago, one just now.
  for (const n of NODES) {
    const l = new Layout(prefix, n);
    await storage.putBytes(l.dataKey('differential', '', 'shop/gone-1/nb-1-big-Data.db'), 'old');
    await storage.putBytes(l.dataKey('differential', '', 'shop/gone-1/nb-2-big-Data.db'), 'new');
    const old = new Date(Date.now() - 30 * DAY_MS);
    utimesSync(localPath(config, l.dataKey('differential', '', 'shop/gone-1/nb-1-big-Data.db')), old, old);
  }

  // A corrupt manifest of a backup that would stay: one line naming it, and not one object deleted.
  const corrupt = new Layout(prefix, '127.0.0.3').meta('c2', 'manifest.json');
  const good = (await storage.getBytes(corrupt))!;
  await storage.putBytes(corrupt, '[{"keyspace": "shop", "colu');
  const before = await listKeys(storage, `${prefix}/`);
  const refused = await purge(taskQueue, { prefix, maxBackupCount: 2, backupGracePeriodInDays: 10 }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(WorkflowFailedError);
  const message = String((refused as WorkflowFailedError).cause?.message);
  expect(message).toMatch(new RegExp(`^manifest ${corrupt.replace(/\./g, '\\.')} is corrupt: `));
  expect(message.split('\n')).toHaveLength(1);
  expect(await listKeys(storage, `${prefix}/`)).toEqual(before);
  await storage.putBytes(corrupt, good);

  const r = await purge(taskQueue, { prefix, maxBackupCount: 2, backupGracePeriodInDays: 10 });
  expect(r.deleted).toEqual(NODES.map((fqdn) => ({ name: 'c1', fqdn })));
  expect(await catalogue(storage, prefix)).toEqual(NODES.flatMap((n) => [`${n}:c2`, `${n}:c3`]));
  for (const n of NODES) {
    const l = new Layout(prefix, n);
    // c1 was full: its own data folder went with it, exactly `c1/`.
    expect(await listKeys(storage, `${l.nodeBase()}/c1/`)).toEqual([]);
    expect(await storage.head(l.dataKey('differential', '', 'shop/gone-1/nb-1-big-Data.db'))).toBeUndefined();
    expect(await storage.head(l.dataKey('differential', '', 'shop/gone-1/nb-2-big-Data.db'))).toBeDefined();
    expect((await storage.getBytes(l.latest('backup_name.txt')))?.toString()).toBe('c3');
  }
  expect(await listKeys(storage, `${prefix}/index/backup_index/c1/`)).toEqual([]);
  expect(r.backupObjects).toBeGreaterThan(100);
  expect(r.poolObjects).toBe(3);
  expect(r.keptWithinGrace).toBe(3);
  expect(await manifestsIntact(storage, prefix)).toBeGreaterThan(100);

  // Grace 0: the fresh unreferenced files go too; every kept backup still has all its objects.
  const r0 = await purge(taskQueue, { prefix, maxBackupCount: 2, backupGracePeriodInDays: 0 });
  expect(r0.deleted).toEqual([]);
  expect([r0.poolObjects, r0.keptWithinGrace]).toEqual([3, 0]);
  for (const n of NODES) expect(await storage.head(new Layout(prefix, n).dataKey('differential', '', 'shop/gone-1/nb-2-big-Data.db'))).toBeUndefined();
  expect(await manifestsIntact(storage, prefix)).toBeGreaterThan(100);
  expect(await catalogue(storage, prefix)).toEqual(NODES.flatMap((n) => [`${n}:c2`, `${n}:c3`]));
}, 600_000);

test('delete-backup: exact names (b1 never touches b10), one node or --all-nodes, latest_backup moved, unknown name in one line', async () => {
  const prefix = uniqueId('pd').replace(/-/g, '');
  const config = sandboxConfig('s3', { prefix });
  const { taskQueue, storage } = await h.worker(config);
  await backup(taskQueue, { backupName: 'b1', prefix, mode: 'full' });
  await backup(taskQueue, { backupName: 'b10', prefix, mode: 'full' });
  const b10Keys = async () => (await listKeys(storage, `${prefix}/`)).filter((k) => k.includes('/b10/'));
  const b10 = await b10Keys();
  expect(b10.length).toBeGreaterThan(100);

  const one = await del(taskQueue, { prefix, backupName: 'b1', fqdn: '127.0.0.2' });
  expect(one.deleted).toEqual([{ name: 'b1', fqdn: '127.0.0.2' }]);
  expect(await catalogue(storage, prefix)).toEqual(['127.0.0.2:b10', '127.0.0.3:b1', '127.0.0.3:b10', '127.0.0.4:b1', '127.0.0.4:b10']);
  expect(await listKeys(storage, `${prefix}/127.0.0.2/b1/`)).toEqual([]);
  expect(await b10Keys()).toEqual(b10);

  // The latest backup of one node deleted: latest_backup points to the newest remaining one.
  const latest = await del(taskQueue, { prefix, backupName: 'b10', fqdn: '127.0.0.3' });
  expect(latest.latest).toEqual({ '127.0.0.3': 'b1' });
  expect((await storage.getBytes(new Layout(prefix, '127.0.0.3').latest('backup_name.txt')))?.toString()).toBe('b1');

  const all = await del(taskQueue, { prefix, backupName: 'b1', allNodes: true });
  expect(all.deleted).toEqual([{ name: 'b1', fqdn: '127.0.0.3' }, { name: 'b1', fqdn: '127.0.0.4' }]);
  expect(all.latest).toEqual({ '127.0.0.3': '' });
  expect(await storage.head(new Layout(prefix, '127.0.0.3').latest('backup_name.txt'))).toBeUndefined();
  expect(await catalogue(storage, prefix)).toEqual(['127.0.0.2:b10', '127.0.0.4:b10']);
  expect(await listKeys(storage, `${prefix}/index/backup_index/b1/`)).toEqual([]);
  expect(await manifestsIntact(storage, prefix)).toBeGreaterThan(50);

  // The CLI: an unknown name is one line and exit 1; the node's backup by --fqdn, reported like Medusa.
  const ini = { MEDUSA_CONFIG_FILE: sandbox('MEDUSA_CONFIG_FILE'), TEMPORAL_ADDRESS: sandbox('TEMPORAL_ADDRESS') };
  const keyArgs = ['--prefix', prefix, '--bucket-name', config.storage.bucketName];
  const unknown = await medusa([...keyArgs, 'delete-backup', '--backup-name', 'b', '--task-queue', taskQueue], ini);
  // The CLI's medusa.ini is local storage; this worker's is S3: the CLI passes bucket and prefix, the worker's storage decides.
  expect(unknown.code).toBe(1);
  expect(lines(unknown.stderr).filter((l) => l.startsWith('medusa: '))).toEqual([`medusa: no backup named b in ${storage.description} (prefix ${prefix})`]);
  const cli = await medusa([...keyArgs, '--fqdn', '127.0.0.4', 'delete-backup', '--backup-name', 'b10', '--task-queue', taskQueue], ini);
  expect(cli.stderr).toContain('delete-backup b10 (127.0.0.4) started');
  expect(cli.code).toBe(0);
  expect(lines(cli.stdout)[0]).toBe('Purging backup b10 from node 127.0.0.4...');
  expect(lines(cli.stdout)).toContainEqual(expect.stringMatching(/^Purged \d+ objects with a total size of [\d.]+ [KM]?B /));
  expect(await catalogue(storage, prefix)).toEqual(['127.0.0.2:b10']);
}, 600_000);

test('a purge whose worker is killed mid-deletion leaves no trusted half-deleted backup, and the next run finishes it', async () => {
  const prefix = uniqueId('pi').replace(/-/g, '');
  const config = sandboxConfig('s3', { prefix });
  const { taskQueue: fast, storage } = await h.worker(config);
  await backup(fast, { backupName: 'i1', prefix, mode: 'full' });
  await backup(fast, { backupName: 'i2', prefix });
  // A worker whose deletes are slow (50 ms each, one at a time, on the real S3 server), so that it can be killed mid-way
  // even on a loaded machine: about 15 s per node for i1.
  const base = createActivityContext(config, 'ssh');
  const slow = (s: Storage): Storage => ({ ...s, description: s.description, delete: async (k) => { await new Promise((r) => setTimeout(r, 50)); await s.delete(k); } });
  const context = { ...base, storage: (b?: string) => slow(base.storage(b)) };
  const taskQueue = uniqueId('slow');
  const i1Keys = async () => (await listKeys(storage, `${prefix}/`)).filter((k) => k.includes('/i1/'));
  const before = (await i1Keys()).length;
  const worker = await createWorker({ connection: h.nativeConnection, taskQueue, workflowBundle: h.bundle, context, shutdownGraceTime: '1 second' });
  const running = worker.run();
  let progressed = false;
  let handle;
  try {
    handle = await h.client.workflow.start(purgeBackups, { taskQueue, workflowId: uniqueId('purge'), args: [{ prefix, maxBackupCount: 1, batchSize: 1 }] });
    // Deletion under way: i1's marker is written and some of its objects are gone, not all.
    for (let i = 0; i < 1200 && !progressed; i++) {
      const now = await i1Keys();
      progressed = now.length < before && now.some((k) => k.endsWith('/i1/meta/deleting'));
      if (!progressed) await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    worker.shutdown();
    await running;
  }
  expect(progressed).toBe(true);
  await handle.terminate('test: the purge is interrupted');

  // Half-way: i1 is partly deleted on some node, yet nothing the catalogue calls finished misses an object.
  const left = (await listKeys(storage, `${prefix}/`)).filter((k) => k.includes('/i1/'));
  expect(left.length).toBeGreaterThan(0);
  expect(left.some((k) => k.endsWith('/i1/meta/deleting'))).toBe(true);
  await manifestsIntact(storage, prefix);
  const halfway = (await readCatalogue(storage, prefix)).find((c) => c.name === 'i1');
  if (halfway) expect(await halfway.isComplete()).toBe(false);

  const r = await purge(fast, { prefix, maxBackupCount: 1 });
  expect(r.deleted.map((d) => d.name)).toEqual(expect.arrayContaining(['i1']));
  expect((await listKeys(storage, `${prefix}/`)).filter((k) => k.includes('/i1/'))).toEqual([]);
  expect(await catalogue(storage, prefix)).toEqual(NODES.map((n) => `${n}:i2`));
  expect(await manifestsIntact(storage, prefix)).toBeGreaterThan(100);
}, 600_000);
