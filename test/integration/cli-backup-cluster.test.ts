/**
 * `medusa backup-cluster` as users run it: the real CLI (bin/medusa.js) in a child process, against
 * the sandbox's Temporal server and 3-node cluster, with an in-process worker on its own task queue
 * and its own storage prefix. Exit codes, stdout and stderr, and what lands in storage — or does not.
 * The sandbox's server is shared (other test files, other people, runs left behind by a killed worker),
 * and these tests count the running cluster backups, so this file works in a namespace of its own, made
 * in beforeAll and deleted in afterAll; its tests run in order.
 */
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { createActivityContext } from '../../src/activities/context';
import { Layout } from '../../src/plan/layout';
import { SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';
import { Storage } from '../../src/storage/storage';
import { createWorker } from '../../src/worker';
import type { BackupClusterResult } from '../../src/workflows';
import { Harness, listKeys, sandboxConfig, startHarness } from '../support/backup-harness';
import { lines, medusa } from '../support/cli';
import { uniqueId } from '../support/env';
import { NODES, snapshotsLeft } from '../support/nodes';
import { loadSettings } from '../../sandbox/settings';

const RUNNING = "WorkflowType = 'backupCluster' AND ExecutionStatus = 'Running'";
// Workflow ids are medusa-backup-cluster/<name> on a shared server: names as unique as the prefix.
const prefix = uniqueId('clicl').replace(/-/g, '');
const nameOf = (what: string) => `${prefix}-${what}`;
const namespace = uniqueId('medusa-cli-cluster');
const taskQueue = uniqueId('backup');
let h: Harness;
let client: Client;
let storage: Storage;
let worker: { worker: Worker; done: Promise<void> } | undefined;

/** `TEMPORAL_NAMESPACE=N medusa --prefix P --fqdn 127.0.0.2 backup-cluster …args --task-queue Q`. */
const backupCluster = (args: string[], o: { prefix?: string } = {}) =>
  medusa(['--prefix', o.prefix ?? prefix, '--fqdn', NODES[0], 'backup-cluster', ...args, '--task-queue', taskQueue], { TEMPORAL_NAMESPACE: namespace });

async function runningClusterBackups(): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query: RUNNING })) ids.push(w.workflowId);
  return ids;
}

/** Waits (up to a minute) until the visibility store shows exactly this set of running cluster backups. */
async function waitForRunning(expected: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ids = await runningClusterBackups();
    if (JSON.stringify(ids.sort()) === JSON.stringify([...expected].sort())) return;
    if (Date.now() > deadline) throw new Error(`running cluster backups: ${ids.join(', ') || 'none'}, expected ${expected.join(', ') || 'none'}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A fresh namespace with the backup workflows' search attributes, and a worker in it (retried while the server takes the namespace in). */
async function namespaceWithWorker(): Promise<void> {
  const { workflowService, operatorService } = h.client.connection;
  await workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((k) => [k, keyword])) });
  client = new Client({ connection: h.client.connection, namespace });
  const context = createActivityContext(sandboxConfig('local', { prefix }), 'ssh');
  storage = context.storage();
  for (let attempt = 1; ; attempt++) {
    try {
      const w = await createWorker({ connection: h.nativeConnection, namespace, taskQueue, workflowBundle: h.bundle, context });
      worker = { worker: w, done: w.run() };
      return;
    } catch (err) {
      if (attempt >= 30) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

beforeAll(async () => {
  h = await startHarness();
  await namespaceWithWorker();
}, 120_000);

afterAll(async () => {
  worker?.worker.shutdown();
  await worker?.done;
  await h?.client.connection.operatorService.deleteNamespace({ namespace }).catch(() => undefined);
  await h?.close();
}, 60_000);

describe('medusa backup-cluster follows a cluster backup to its end', () => {
  const first = nameOf('first');

  test('every node backed up: exit 0, a summary per node and a total, one stderr line per phase change, every manifest in storage', async () => {
    await waitForRunning([]);
    const r = await backupCluster(['--backup-name', first, '-pu', '2', '-ps', '3']);
    expect(r.stderr).not.toMatch(/^medusa: /m);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      ...NODES.map((n) => expect.stringMatching(new RegExp(`^${n.replace(/\./g, '\\.')}: finished: \\d+ files, .*; uploaded \\d+ files .*, kept \\d+ from earlier backups .*$`))),
      expect.stringMatching(new RegExp(`^backup-cluster ${first} finished \\(differential\\): 3 of 3 nodes finished; \\d+ files, `)),
    ]);
    const [startedLine, ...phaseLines] = lines(r.stderr);
    expect(startedLine).toBe(`backup-cluster ${first} (differential, seed ${NODES[0]}) started: workflow medusa-backup-cluster/${first}`);
    // Not a TTY: plain lines, no carriage returns or escapes, a line only when a node's phase changes.
    for (const c of ['\r', '\x1b']) expect(r.stderr).not.toContain(c);
    for (const l of phaseLines) expect(l).toMatch(/^127\.0\.0\.[234]: (waiting|snapshotting|snapshotted|uploading|finished|failed|dropped)$/);
    for (const n of NODES) {
      const phases = phaseLines.filter((l) => l.startsWith(`${n}: `)).map((l) => l.slice(n.length + 2));
      expect(phases.at(-1)).toBe('finished');
      phases.forEach((p, i) => expect(p).not.toBe(phases[i - 1]));
      expect(await storage.head(new Layout(prefix, n).meta(first, 'manifest.json'))).toBeDefined();
    }
  }, 400_000);

  test('the same name again is refused with exit 1, and nothing in storage changes', async () => {
    await waitForRunning([]);
    const before = await listKeys(storage, `${prefix}/`);
    const r = await backupCluster(['--backup-name', first]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const errors = lines(r.stderr).filter((l) => l.startsWith('medusa: '));
    expect(errors).toEqual([expect.stringContaining(`Backup named ${first} already exists`)]);
    expect(lines(r.stderr).at(-1)).toBe(errors[0]);
    expect(await listKeys(storage, `${prefix}/`)).toEqual(before);
  }, 120_000);

  test('--no-wait prints only the workflow id; while it runs, another backup of the cluster and the same one are refused', async () => {
    await waitForRunning([]);
    const name = nameOf('nowait');
    const workflowId = `medusa-backup-cluster/${name}`;
    const r = await backupCluster(['--backup-name', name, '--no-wait', '--mode', 'full']);
    expect(r).toMatchObject({ code: 0, stdout: `${workflowId}\n`, stderr: '' });
    const handle = client.workflow.getHandle(workflowId);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await waitForRunning([workflowId]);

    const other = await backupCluster(['--backup-name', nameOf('other')]);
    expect(other).toMatchObject({ code: 1, stdout: '' });
    expect(lines(other.stderr).filter((l) => l.startsWith('medusa: '))).toEqual([
      `medusa: another backup or restore of cluster ${loadSettings().clusterName}@${sandboxConfig('local').storage.bucketName}/${prefix} is running (workflow ${workflowId}): backups and restores of a cluster run one at a time`,
    ]);
    // Refused by the workflow itself (as a start from the UI or a schedule would be), before any snapshot.
    const refused = await client.workflow.getHandle(`medusa-backup-cluster/${nameOf('other')}`).describe();
    expect(refused.status.name).toBe('FAILED');
    expect(refused.searchAttributes.MedusaBackupOutcome).toEqual(['refused']);
    expect(await snapshotsLeft(`medusa-${nameOf('other')}`)).toEqual([]);
    const again = await backupCluster(['--backup-name', name]);
    expect(again).toMatchObject({ code: 1, stdout: '' });
    expect(lines(again.stderr)).toEqual([`medusa: backup-cluster ${name} is already running (workflow ${workflowId})`]);

    const result = (await handle.result()) as BackupClusterResult;
    expect(result.nodes.map((n) => [n.fqdn, n.phase])).toEqual(NODES.map((n) => [n, 'finished']));
    for (const n of NODES) expect(await storage.head(new Layout(prefix, n).meta(name, 'manifest.json'))).toBeDefined();
  }, 400_000);
});

describe('bad input: one line on stderr, a non-zero exit, nothing written, no workflow started', () => {
  // A prefix of its own, so "nothing written" is "no key at all under it".
  const badPrefix = uniqueId('clibad').replace(/-/g, '');
  const ok = nameOf('never');
  const cases: [string, string[], number, RegExp][] = [
    ['-pu 0', ['--backup-name', ok, '-pu', '0'], 2, /^medusa: --parallel-uploads must be a whole number ≥ 1, not 0$/],
    ['-ps x', ['--backup-name', ok, '-ps', 'x'], 2, /^medusa: --parallel-snapshots must be a whole number ≥ 1, not x$/],
    ['--parallel-uploads -1', ['--backup-name', ok, '--parallel-uploads=-1'], 2, /^medusa: --parallel-uploads must be a whole number ≥ 1, not -1$/],
    ['--stagger 1.5', ['--backup-name', ok, '--stagger', '1.5'], 2, /^medusa: --stagger must be a whole number ≥ 1, not 1\.5$/],
    ['--temp-dir /nonexistent', ['--backup-name', ok, '--temp-dir', '/nonexistent'], 2, /^medusa: --temp-dir \/nonexistent is not an existing directory on this machine$/],
    ['--mode foo', ['--backup-name', ok, '--mode', 'foo'], 2, /^error: option '--mode <mode>' argument 'foo' is invalid\. Allowed choices are full, differential\.$/],
    ['no --backup-name', ['--mode', 'full'], 2, /^error: required option '--backup-name <name>' not specified$/],
    ['a name with /', ['--backup-name', 'a/b'], 2, /^medusa: backup name "a\/b" contains '\/'$/],
  ];

  test.each(cases)('%s', async (_what, args, code, expected) => {
    const r = await backupCluster(args, { prefix: badPrefix });
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([expect.stringMatching(expected)]);
    expect(await listKeys(storage, `${badPrefix}/`)).toEqual([]);
    await expect(client.workflow.getHandle(`medusa-backup-cluster/${ok}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});

describe('help', () => {
  test('medusa backup-cluster --help lists Medusa\'s options, with -ps and -pu, and defines --stagger', async () => {
    const r = await medusa(['backup-cluster', '--help']);
    expect(r.code).toBe(0);
    for (const o of ['--backup-name', '--seed-target', '--stagger', '--enable-md5-checks', '--mode', '--temp-dir', '-ps, --parallel-snapshots',
      '-pu, --parallel-uploads', '--keep-snapshot', '--use-existing-snapshot', '--no-wait', '--node-workers']) expect(r.stdout).toContain(o);
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/token order.*waits until the node before it has finished, at most this many seconds; then the node is dropped/);
  });
});
