/**
 * Ctrl-C in `medusa backup-cluster` cancels the cluster backup: uploads stop, every node's
 * snapshot is cleared, the workflow ends CANCELLED and the CLI says so with a non-zero exit.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Harness, sandboxConfig, startHarness } from '../support/backup-harness';
import { uniqueId } from '../support/env';
import { onNode } from '../support/nodes';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 120_000);
afterAll(async () => h?.close());

test('Ctrl-C cancels a running cluster backup, which clears every snapshot', async () => {
  const prefix = uniqueId('int').replace(/-/g, '');
  const config = sandboxConfig('s3', { prefix });
  config.storage.transferMaxBandwidth = 40 * 1024;
  const { taskQueue } = await h.worker(config);
  const name = `${prefix}-c`;
  const cli = spawn('node', [join(__dirname, '..', '..', 'bin', 'medusa.js'), '--prefix', prefix, '--fqdn', '127.0.0.2', 'backup-cluster',
    '--backup-name', name, '--task-queue', taskQueue], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  cli.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 240 && !/: uploading/.test(stderr); i++) await new Promise((r) => setTimeout(r, 500));
  expect(stderr).toMatch(/: uploading/);
  cli.kill('SIGINT');
  expect(await exited).toBe(1);
  expect(stderr).toContain(`cancelling workflow medusa-backup-cluster/${name}`);
  expect(stderr).toContain(`medusa: backup-cluster ${name} was cancelled`);
  expect((await h.client.workflow.getHandle(`medusa-backup-cluster/${name}`).describe()).status.name).toBe('CANCELLED');
  for (const node of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
    expect((await onNode(node, `find /var/lib/cassandra/data -type d -path "*/snapshots/medusa-${name}"`)).trim()).toBe('');
  }
}, 300_000);
