/**
 * In-process workers for backup tests: real Worker, real Temporal server, real ports (SSH to the
 * sandbox nodes, local or S3 storage), configured like a user would in medusa.ini.
 */
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { centralNodeMode, createActivityContext } from '../../src/activities/context';
import { ConfigOverrides, loadMedusaConfig, MedusaConfig } from '../../src/config/medusa-config';
import { Storage } from '../../src/storage/storage';
import { createWorker } from '../../src/worker';
import { sandbox, uniqueId } from './env';

export type StorageKind = 'local' | 's3';

/** The sandbox's medusa.ini, pointed at local storage or the sandbox S3 server. */
export function sandboxConfig(kind: StorageKind, overrides: ConfigOverrides = {}): MedusaConfig {
  const c = loadMedusaConfig(sandbox('MEDUSA_CONFIG_FILE'), overrides);
  if (kind === 's3') {
    const endpoint = new URL(sandbox('SANDBOX_S3_ENDPOINT'));
    Object.assign(c.storage, {
      storageProvider: 's3_compatible', host: endpoint.hostname, port: Number(endpoint.port), secure: false,
      s3AddressingStyle: 'path', region: sandbox('SANDBOX_S3_REGION'), keyFile: sandbox('SANDBOX_S3_KEY_FILE'),
    });
  }
  return c;
}

export interface Harness {
  client: Client;
  nativeConnection: NativeConnection;
  bundle: WorkflowBundleWithSourceMap;
  /** Starts a worker with this configuration on a fresh task queue (or this one); stopped by `close()`. */
  worker(config: MedusaConfig, taskQueue?: string): Promise<{ taskQueue: string; storage: Storage }>;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  // ERROR only: several tests make workflows fail on purpose, and their WARN lines would bury real problems.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const nativeConnection = await NativeConnection.connect({ address: sandbox('TEMPORAL_ADDRESS') });
  const connection = await Connection.connect({ address: sandbox('TEMPORAL_ADDRESS') });
  const client = new Client({ connection });
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: new DefaultLogger('WARN') });
  const running: { worker: Worker; done: Promise<void> }[] = [];
  return {
    client, nativeConnection, bundle,
    async worker(config, taskQueue = uniqueId('backup')) {
      const context = createActivityContext(config, centralNodeMode(config));
      const worker = await createWorker({ connection: nativeConnection, taskQueue, workflowBundle: bundle, context });
      running.push({ worker, done: worker.run() });
      return { taskQueue, storage: context.storage() };
    },
    async close() {
      for (const r of running) r.worker.shutdown();
      // Activities get the worker's grace period to stop; a worker that still hangs must not hang the run.
      const stopped = Promise.all(running.map((r) => r.done));
      const late = await Promise.race([stopped.then(() => false), new Promise<boolean>((res) => setTimeout(() => res(true), 90_000).unref())]);
      if (late) process.stderr.write('backup harness: a worker did not stop within 90 s\n');
      await connection.close();
      await nativeConnection.close();
    },
  };
}

export async function listKeys(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of storage.list(prefix)) keys.push(o.key);
  return keys.sort();
}

/** A copy of the sandbox's medusa.ini pointed at its S3 server, with this prefix and extra [storage] lines. */
export function s3Ini(prefix: string, extra: string): string {
  const endpoint = new URL(sandbox('SANDBOX_S3_ENDPOINT'));
  const base = readFileSync(sandbox('MEDUSA_CONFIG_FILE'), 'utf8').replace(/\[storage\][\s\S]*?(?=\n\[)/, `[storage]
storage_provider = s3_compatible
bucket_name = ${sandbox('SANDBOX_S3_BUCKET')}
host = ${endpoint.hostname}
port = ${endpoint.port}
secure = False
s3_addressing_style = path
region = ${sandbox('SANDBOX_S3_REGION')}
key_file = ${sandbox('SANDBOX_S3_KEY_FILE')}
prefix = ${prefix}
${extra}
`);
  const file = join(mkdtempSync(join(tmpdir(), 'ini-')), 'medusa.ini');
  writeFileSync(file, base);
  return file;
}
