/**
 * Backups that cannot be made fail with one clear line naming the problem, and write nothing:
 * a missing bucket, refused credentials, an unreachable node. And --enable-md5-checks catches a
 * pool object whose content changed while its size did not.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Layout } from '../../src/plan/layout';
import { parseManifest } from '../../src/plan/manifest';
import { backupNode, BackupNodeInput } from '../../src/workflows';
import { Harness, listKeys, sandboxConfig, startHarness } from '../support/backup-harness';
import { uniqueId } from '../support/env';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 120_000);
afterAll(async () => h?.close());

async function failure(taskQueue: string, input: BackupNodeInput): Promise<string> {
  const err = await h.client.workflow.execute(backupNode, { taskQueue, workflowId: uniqueId('refusal'), args: [input], workflowExecutionTimeout: '5 minutes' })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return String((err as WorkflowFailedError).cause?.message);
}

test('a bucket that does not exist is named, and nothing is written', async () => {
  const config = sandboxConfig('s3');
  config.storage.bucketName = uniqueId('no-such-bucket');
  const { taskQueue } = await h.worker(config);
  const message = await failure(taskQueue, { backupName: 'b', fqdn: '127.0.0.2' });
  expect(message).toMatch(new RegExp(`^127\\.0\\.0\\.2: check storage: .*${config.storage.bucketName}`));
  expect(message.split('\n')).toHaveLength(1);
});

test('credentials S3 refuses are reported as such, and nothing is written', async () => {
  const prefix = uniqueId('creds').replace(/-/g, '');
  const good = await h.worker(sandboxConfig('s3', { prefix }));
  const config = sandboxConfig('s3', { prefix });
  const keyFile = join(tmpdir(), `${prefix}-credentials`);
  writeFileSync(keyFile, '[default]\naws_access_key_id = sandbox-wrong\naws_secret_access_key = not-the-secret\n');
  config.storage.keyFile = keyFile;
  const { taskQueue } = await h.worker(config);
  const message = await failure(taskQueue, { backupName: 'b', fqdn: '127.0.0.2', prefix });
  expect(message).toMatch(/^127\.0\.0\.2: check storage: .*(credentials|refused|denied)/i);
  expect(await listKeys(good.storage, `${prefix}/`)).toEqual([]);
});

test('a node that cannot be reached is named after the retries, and no meta file is written', async () => {
  const prefix = uniqueId('down').replace(/-/g, '');
  const { taskQueue, storage } = await h.worker(sandboxConfig('local', { prefix }));
  const message = await failure(taskQueue, { backupName: 'b', fqdn: '127.0.0.9', prefix });
  expect(message).toMatch(/^127\.0\.0\.9: write meta files: ssh 127\.0\.0\.9:2222: .*ECONNREFUSED/);
  expect(await listKeys(storage, `${prefix}/`)).toEqual([]);
}, 180_000);

test('with --enable-md5-checks a pool object of the right size but other content is sent again; without, it is kept', async () => {
  const prefix = uniqueId('md5').replace(/-/g, '');
  const { taskQueue, storage } = await h.worker(sandboxConfig('s3', { prefix }));
  const run = (backupName: string, enableMd5Checks: boolean) => h.client.workflow.execute(backupNode, {
    taskQueue, workflowId: `${prefix}/${backupName}`, args: [{ backupName, fqdn: '127.0.0.2', prefix, enableMd5Checks }], workflowExecutionTimeout: '5 minutes',
  });
  await run('m1', false);
  const layout = new Layout(prefix, '127.0.0.2');
  const manifest = parseManifest((await storage.getBytes(layout.meta('m1', 'manifest.json')))!.toString());
  const victim = manifest.flatMap((s) => s.objects).find((o) => o.path.includes('/shop/orders-') && o.path.endsWith('-Data.db'))!;
  const original = (await storage.getBytes(victim.path))!;
  const corrupted = Buffer.from(original);
  corrupted[corrupted.length - 1] ^= 0xff;
  await storage.putBytes(victim.path, corrupted);

  const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
  const victimIn = async (name: string) => parseManifest((await storage.getBytes(layout.meta(name, 'manifest.json')))!.toString())
    .flatMap((s) => s.objects).find((o) => o.path === victim.path);

  // Sizes only (the default): the changed object is kept, as it is.
  await run('m2', false);
  expect((await storage.getBytes(victim.path))!.equals(corrupted)).toBe(true);
  expect((await victimIn('m2'))?.MD5).toBe(md5(corrupted));

  // With md5 checks the node's file is hashed on the node and the object is sent again.
  const checked = await run('m3', true);
  expect(checked.uploadedFiles).toBeGreaterThanOrEqual(1);
  expect((await storage.getBytes(victim.path))!.equals(original)).toBe(true);
  expect((await victimIn('m3'))?.MD5).toBe(md5(original));
}, 180_000);
