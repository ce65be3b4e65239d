/**
 * `medusa backup` as users run it: the real CLI (bin/medusa.js) in a child process, against the
 * sandbox's Temporal server, with an in-process worker on its own task queue and its own storage
 * prefix. Exit codes, what goes to stdout and stderr, and what lands in storage — or does not.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Layout } from '../../src/plan/layout';
import { Storage } from '../../src/storage/storage';
import type { BackupNodeResult } from '../../src/workflows';
import { Harness, listKeys, sandboxConfig, startHarness } from '../support/backup-harness';
import { lines, medusa } from '../support/cli';
import { sandbox, uniqueId } from '../support/env';

const NODE = '127.0.0.2';
// Workflow ids are medusa-backup/<name>/<node> on a shared server: names as unique as the prefix.
const prefix = uniqueId('cli').replace(/-/g, '');
const layout = new Layout(prefix, NODE);
const nameOf = (what: string) => `${prefix}-${what}`;
let h: Harness;
let taskQueue: string;
let storage: Storage;
// A medusa.ini without bucket_name, written in beforeAll.
const tmp = join(tmpdir(), prefix);
const noBucketIni = join(tmp, 'no-bucket.ini');

/** `medusa [globals] --prefix P --fqdn 127.0.0.2 <command> …args --task-queue Q`. */
const backup = (args: string[], o: { command?: string; globals?: string[]; prefix?: string; env?: NodeJS.ProcessEnv } = {}) =>
  medusa([...(o.globals ?? []), '--prefix', o.prefix ?? prefix, '--fqdn', NODE, o.command ?? 'backup', ...args, '--task-queue', taskQueue], o.env);

beforeAll(async () => {
  h = await startHarness();
  ({ taskQueue, storage } = await h.worker(sandboxConfig('local', { prefix })));
  mkdirSync(tmp, { recursive: true });
  const ini = readFileSync(sandbox('MEDUSA_CONFIG_FILE'), 'utf8');
  writeFileSync(noBucketIni, ini.split('\n').filter((l) => !/^\s*bucket_name\s*=/.test(l)).join('\n'));
}, 120_000);

afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await h?.close();
});

describe('medusa backup follows a backup to its end', () => {
  const first = nameOf('first');

  test('a differential backup: exit 0, one summary line on stdout, one stderr line per phase, a manifest in storage', async () => {
    const r = await backup(['--backup-name', first]);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([expect.stringMatching(
      new RegExp(`^backup ${first} of ${NODE} finished \\(differential\\): \\d+ files, .*; uploaded \\d+ files .*, kept 0 from earlier backups .*; snapshot cleared$`),
    )]);
    const [startedLine, ...phaseLines] = lines(r.stderr);
    expect(startedLine).toBe(`backup ${first} of ${NODE} (differential) started: workflow medusa-backup/${first}/${NODE}`);
    // Not a TTY: plain lines, no carriage returns or escapes, and a new line only when the phase changes.
    for (const c of ['\r', '\x1b']) expect(r.stderr).not.toContain(c);
    expect(phaseLines.length).toBeGreaterThan(0);
    for (const l of phaseLines) expect(l).toMatch(/^127\.0\.0\.2: [a-z]+( {2}.*)?$/);
    const phases = phaseLines.map((l) => l.split(' ')[1]);
    phases.forEach((p, i) => expect(p).not.toBe(phases[i - 1]));
    expect(await storage.head(layout.meta(first, 'manifest.json'))).toBeDefined();
    expect((await storage.getBytes(layout.latest('backup_name.txt')))?.toString()).toBe(first);
  });

  test('backup-node is the same command, and --mode full copies every file under the backup', async () => {
    const name = nameOf('full');
    const r = await backup(['--backup-name', name, '--mode', 'full'], { command: 'backup-node' });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([expect.stringMatching(new RegExp(`^backup ${name} of ${NODE} finished \\(full\\): (\\d+) files, .*; uploaded \\1 files .*, kept 0 `))]);
    expect(lines(r.stderr)[0]).toBe(`backup ${name} of ${NODE} (full) started: workflow medusa-backup/${name}/${NODE}`);
    expect(await storage.head(layout.meta(name, 'manifest.json'))).toBeDefined();
    expect((await listKeys(storage, `${prefix}/${NODE}/${name}/data/`)).length).toBeGreaterThan(100);
  });

  test('--no-wait prints only the workflow id and returns while the backup runs', async () => {
    const name = nameOf('nowait');
    const workflowId = `medusa-backup/${name}/${NODE}`;
    const r = await backup(['--backup-name', name, '--no-wait']);
    expect(r).toMatchObject({ code: 0, stdout: `${workflowId}\n`, stderr: '' });
    const handle = h.client.workflow.getHandle(workflowId);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const result = (await handle.result()) as BackupNodeResult;
    expect(result).toMatchObject({ backupName: name, fqdn: NODE, mode: 'differential' });
    expect(await storage.head(layout.meta(name, 'manifest.json'))).toBeDefined();
  });

  test('a name that exists is refused with exit 1 and one line, and nothing in storage changes', async () => {
    const before = await listKeys(storage, `${prefix}/`);
    const r = await backup(['--backup-name', first]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const errors = lines(r.stderr).filter((l) => l.startsWith('medusa: '));
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^medusa: backup ${first} of ${NODE} failed: Backup ${first} already exists for ${NODE}\\b`))]);
    expect(lines(r.stderr).at(-1)).toBe(errors[0]);
    expect(await listKeys(storage, `${prefix}/`)).toEqual(before);
  });
});

describe('bad input: one line on stderr, a non-zero exit, nothing written', () => {
  // A prefix of its own, so "nothing written" is "no key at all under it".
  const badPrefix = uniqueId('clibad').replace(/-/g, '');
  const ok = nameOf('never');
  type Case = [string, string[], { globals?: string[]; env?: NodeJS.ProcessEnv }, number, RegExp];
  const cases: Case[] = [
    ['a name with /', ['--backup-name', 'a/b'], {}, 2, /^medusa: backup name "a\/b" contains '\/'$/],
    ['the name ..', ['--backup-name', '..'], {}, 2, /^medusa: backup name "\.\." contains '\.\.'$/],
    ['a name with a space', ['--backup-name', 'a b'], {}, 2, /^medusa: backup name "a b" may use only letters, digits/],
    ['an empty name', ['--backup-name', ''], {}, 2, /^medusa: backup name is empty$/],
    ['--mode incremental', ['--backup-name', ok, '--mode', 'incremental'], {}, 2, /^error: option '--mode <mode>' argument 'incremental' is invalid\. Allowed choices are full, differential\.$/],
    ['--use-existing-snapshot without a name', ['--use-existing-snapshot'], {}, 2, /^medusa: --use-existing-snapshot needs --backup-name/],
    ['a missing config file', ['--backup-name', ok], { globals: ['--config-file', '/nonexistent.ini'] }, 1, /^medusa: config file \/nonexistent\.ini does not exist/],
    ['a config without bucket_name', ['--backup-name', ok], { globals: ['--config-file', noBucketIni] }, 1, new RegExp(`^medusa: \\[storage\\] bucket_name in ${noBucketIni} is required$`)],
    ['an unreachable Temporal', ['--backup-name', ok], { env: { TEMPORAL_ADDRESS: '127.0.0.1:1' } }, 1, /^medusa: Temporal at 127\.0\.0\.1:1 does not answer/],
  ];

  test.each(cases)('%s', async (_what, args, options, code, expected) => {
    const r = await backup(args, { ...options, prefix: badPrefix });
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([expect.stringMatching(expected)]);
    expect(await listKeys(storage, `${badPrefix}/`)).toEqual([]);
  });
});

describe('help', () => {
  test('medusa backup --help lists Medusa\'s backup options', async () => {
    const r = await medusa(['backup', '--help']);
    expect(r.code).toBe(0);
    for (const o of ['--backup-name', '--stagger', '--enable-md5-checks', '--mode', '--keep-snapshot', '--use-existing-snapshot']) expect(r.stdout).toContain(o);
  });

  test('medusa --help lists the global options', async () => {
    const r = await medusa(['--help']);
    expect(r.code).toBe(0);
    for (const o of ['--config-file', '--fqdn', '--prefix', '--bucket-name']) expect(r.stdout).toContain(o);
    expect(r.stdout).toMatch(/backup\|backup-node/);
  });
});
