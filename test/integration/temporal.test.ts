/**
 * Smoke test of the real Temporal dev server: a workflow runs through a real Worker (no
 * time-skipping test server), the CLI talks to the same server, and our search attributes exist.
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';
import { createWorker } from '../../src/worker';
import { checkWorker } from '../../src/workflows';
import { sandbox, uniqueId } from '../support/env';

const run = promisify(execFile);
const medusaBin = join(__dirname, '..', '..', 'bin', 'medusa.js');

let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  nativeConnection = await NativeConnection.connect({ address: sandbox('TEMPORAL_ADDRESS') });
  connection = await Connection.connect({ address: sandbox('TEMPORAL_ADDRESS') });
  client = new Client({ connection });
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: new DefaultLogger('WARN') });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await nativeConnection?.close();
});

test('a workflow runs on the dev server through a real Worker, and its activity runs in that worker', async () => {
  const taskQueue = uniqueId('smoke');
  const identity = `${taskQueue}-worker`;
  const worker = await createWorker({ connection: nativeConnection, taskQueue, workflowBundle: bundle, identity });
  const handle = await worker.runUntil(async () => {
    const h = await client.workflow.start(checkWorker, { taskQueue, workflowId: taskQueue, args: [{}], workflowExecutionTimeout: '60s' });
    const result = await h.result();
    expect(result.worker.pid).toBe(process.pid);
    expect(result.worker.taskQueue).toBe(taskQueue);
    expect(result.workflowId).toBe(taskQueue);
    return h;
  });
  // The server recorded the run: its history names our worker as the one that ran the activity.
  const history = await handle.fetchHistory();
  const started = history.events?.find((e) => e.activityTaskStartedEventAttributes);
  expect(started?.activityTaskStartedEventAttributes?.identity).toBe(identity);
  expect((await handle.describe()).status.name).toBe('COMPLETED');
});

test('the CLI reaches a worker through the server (medusa check-worker)', async () => {
  const taskQueue = uniqueId('cli');
  const worker = await createWorker({ connection: nativeConnection, taskQueue, workflowBundle: bundle });
  const { stdout } = await worker.runUntil(
    run('node', [medusaBin, 'check-worker', '--task-queue', taskQueue, '--timeout', '60'], { env: process.env }),
  );
  expect(stdout).toContain(`worker on ${taskQueue}: host `);
  expect(stdout).toContain(`pid ${process.pid}`);
});

test('the CLI names an address that does not answer, in one line, with a non-zero exit', async () => {
  const failure = await run('node', [medusaBin, 'check-worker', '--timeout', '5'], {
    env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
  }).then(() => undefined, (e: { code: number; stderr: string }) => e);
  expect(failure?.code).toBe(1);
  expect(failure?.stderr.trim().split('\n')).toHaveLength(1);
  expect(failure?.stderr).toMatch(/^medusa: Temporal at 127\.0\.0\.1:1 does not answer/);
});

test("the project's search attributes are registered on the server", async () => {
  const res = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
  for (const name of Object.keys(SEARCH_ATTRIBUTES)) expect(Object.keys(res.customAttributes ?? {})).toContain(name);
});
