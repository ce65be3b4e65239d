/**
 * Process plumbing for the sandbox: start daemons detached with their output in a log file,
 * remember exactly which process we started (pid plus kernel start time, so a recycled pid is
 * never mistaken for ours), wait for readiness, and stop by pid.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** A process the sandbox started: enough to find it again, and to know it is still the same one. */
export interface Started {
  part: string;
  pid: number;
  startTime: string;
  log: string;
  /**
   * A process that may be restarted by others (a Cassandra node restarted by a restore's start_cmd)
   * is found through this pid file instead; the recorded pid is only its first incarnation.
   */
  pidFile?: string;
}

/** Thrown for any sandbox part that cannot be installed, started or stopped; the message is one line. */
export class SandboxError extends Error {
  override name = 'SandboxError';
}

/** The kernel's start time of a process (field 22 of /proc/<pid>/stat), or undefined when it is gone or a zombie. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

export function isRunning(started: Pick<Started, 'pid' | 'startTime' | 'pidFile'>): boolean {
  const p = current(started);
  return processStartTime(p.pid) === p.startTime;
}

/**
 * The process now behind `p`: the one in its pid file when that is a live Cassandra (the only part
 * with a pid file; checked by its command line, so a recycled pid is never taken for it), else `p`.
 */
export function current<T extends Pick<Started, 'pid' | 'startTime' | 'pidFile'>>(p: T): T {
  if (!p.pidFile) return p;
  let pid: number;
  try {
    pid = Number(readFileSync(p.pidFile, 'utf8').trim());
  } catch {
    return p;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === p.pid) return p;
  const startTime = processStartTime(pid);
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return p;
  }
  return startTime !== undefined && cmdline.includes('CassandraDaemon') ? { ...p, pid, startTime } : p;
}

export interface DaemonSpec {
  part: string;
  command: string;
  args: string[];
  log: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts a long-lived process that outlives this one (own process group, stdio to its log file). */
export function startDaemon(spec: DaemonSpec): Started {
  const fd = openSync(spec.log, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: spec.env ?? process.env,
      cwd: spec.cwd,
    });
    child.unref();
    if (child.pid === undefined) throw new SandboxError(`${spec.part}: could not start ${spec.command}; read ${spec.log}`);
    const startTime = processStartTime(child.pid);
    if (startTime === undefined) throw new SandboxError(`${spec.part}: ${spec.command} exited at once; read ${spec.log}`);
    return { part: spec.part, pid: child.pid, startTime, log: spec.log };
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `ready()` is true; fails naming the part and its log if the process dies or time runs out. */
export async function waitReady(p: Started, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isRunning(p)) throw new SandboxError(`${p.part} exited during start-up; read ${p.log}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new SandboxError(`${p.part} did not become ready within ${Math.round(timeoutMs / 1000)} s; read ${p.log}`);
    }
    await sleep(250);
  }
}

/**
 * Stops a process we started: SIGTERM, then SIGKILL after the grace period (Cassandra drains on
 * SIGTERM, which can take a while). A process that is not ours is left alone.
 */
export async function stopProcess(started: Started, graceMs = 60_000): Promise<void> {
  const p = current(started);
  if (!isRunning(p)) return;
  process.kill(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(p) && Date.now() < deadline) await sleep(100);
  if (isRunning(p)) process.kill(p.pid, 'SIGKILL');
  while (isRunning(p)) await sleep(50);
}

/** True when something accepts TCP connections at host:port. */
export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Refuses to start a part on a port another process already holds. */
export async function assertPortFree(host: string, port: number, what: string, envVar: string): Promise<void> {
  if (await portOpen(host, port)) {
    throw new SandboxError(
      `port ${host}:${port} (${what}) is already in use by another process; stop it or set ${envVar} to another port`,
    );
  }
}
