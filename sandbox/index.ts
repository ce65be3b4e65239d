/**
 * The sandbox of real parts: a Temporal dev server, an S3-compatible server and N SSH hosts, all on
 * loopback. `up` installs what is missing (cached) and starts what is not running; `down` stops
 * exactly the processes `up` recorded, by pid and start time.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeMedusaIni } from './env';
import { flushAll, loadData } from './data';
import { cqlClusterClient, startCassandra } from './parts/cassandra';
import { startS3 } from './parts/s3';
import { startSshHosts } from './parts/ssh-hosts';
import { installNodeTool } from './parts/node-tool';
import { startTemporal } from './parts/temporal';
import { current, isRunning, SandboxError, Started, stopProcess } from './proc';
import {
  hostAddress, Ring, ringHosts, installScript, SandboxSettings, TEMPORAL_CLI_VERSION, VERSITYGW_VERSION, CASSANDRA_VERSION, CASSANDRA_MEDUSA_VERSION, pythonMedusaBin,
} from './settings';

const run = promisify(execFile);

interface State {
  hosts: number;
  processes: Started[];
}

function stateFile(s: SandboxSettings): string {
  return join(s.dir, 'state.json');
}

function readState(s: SandboxSettings): State | undefined {
  const f = stateFile(s);
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')) as State;
}

function writeState(s: SandboxSettings, state: State): void {
  writeFileSync(stateFile(s), JSON.stringify(state, null, 2) + '\n');
}

export interface PartStatus {
  part: string;
  pid: number;
  running: boolean;
  log: string;
}

export function status(s: SandboxSettings): PartStatus[] {
  return (readState(s)?.processes ?? []).map((p) => ({ part: p.part, pid: current(p).pid, running: isRunning(p), log: p.log }));
}

/** True when a recorded sandbox is up and every one of its processes is alive. */
export function isUp(s: SandboxSettings): boolean {
  const st = status(s);
  return st.length > 0 && st.every((p) => p.running);
}

export async function install(s: SandboxSettings, log: (line: string) => void = () => {}): Promise<void> {
  log('installing missing parts (cached in ' + s.cache + ')');
  await runInstall(s, ['temporal', 's3', 'ssh', ...(s.cassandra ? ['cassandra'] : [])]);
}

/**
 * Python Medusa in its own virtual environment (cached), for the tests that hold our backups to it. Not part of
 * `up`: the sandbox runs without it; the tests' global setup installs it.
 */
export async function installPythonMedusa(s: SandboxSettings, log: (line: string) => void = () => {}): Promise<void> {
  if (!existsSync(pythonMedusaBin(s))) log(`installing Python Medusa ${CASSANDRA_MEDUSA_VERSION} (cached in ${s.cache})`);
  await runInstall(s, ['medusa']);
}

async function runInstall(s: SandboxSettings, parts: string[]): Promise<void> {
  try {
    await run('bash', [installScript, ...parts], {
      env: { ...process.env, MEDUSA_SANDBOX_CACHE: s.cache, TEMPORAL_CLI_VERSION, VERSITYGW_VERSION, CASSANDRA_VERSION, CASSANDRA_MEDUSA_VERSION },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const last = (err.stderr ?? err.message).trim().split('\n').slice(-3).join(' | ');
    throw new SandboxError(`installing the sandbox parts failed (sandbox/install.sh): ${last}`);
  }
}

/**
 * Starts the sandbox. Returns false when it is already running; then only the tool on the hosts is brought to
 * this checkout's code (built and installed again if the code changed since).
 */
export async function up(s: SandboxSettings, log: (line: string) => void = () => {}): Promise<boolean> {
  if (isUp(s)) {
    await installNodeTool(s, log);
    return false;
  }
  if (readState(s)) await down(s); // a half-dead sandbox: clear it before starting again
  mkdirSync(s.dir, { recursive: true });
  await install(s, log);
  await installNodeTool(s, log);
  const state: State = { hosts: s.hosts, processes: [] };
  const track = (p: Started) => {
    state.processes.push(p);
    writeState(s, state);
  };
  try {
    log('starting the Temporal dev server');
    await startTemporal(s, track);
    log('starting the S3 server');
    await startS3(s, track);
    log(`starting ${s.hosts} SSH host(s)`);
    const sshd = await startSshHosts(s, track);
    if (s.cassandra) {
      log(`starting ${s.hosts} Cassandra node(s) and waiting until they answer CQL and see each other`);
      await startCassandra(s, sshd, track);
    }
  } catch (e) {
    await down(s);
    throw e;
  }
  writeMedusaIni(s);
  return true;
}

/**
 * Loads the sample data (generation 0) once per sandbox and flushes it to SSTables; a marker file
 * makes a second call a no-op. Returns false when the data was already there.
 */
export async function loadSampleData(s: SandboxSettings, log: (line: string) => void = () => {}): Promise<boolean> {
  if (!s.cassandra) throw new SandboxError('this sandbox runs no Cassandra (SANDBOX_CASSANDRA=0)');
  const marker = join(s.dir, 'cassandra-data-loaded');
  if (existsSync(marker)) return false;
  const client = cqlClusterClient(s);
  try {
    log('loading sample data (keyspaces shop, metrics, inventory)');
    const result = await loadData(client);
    log('flushing every node');
    flushAll(s);
    writeFileSync(marker, JSON.stringify(result) + '\n');
  } finally {
    await client.shutdown();
  }
  return true;
}

function secondRingStateFile(s: SandboxSettings): string {
  return join(s.dir, 'second-ring-state.json');
}

/** The second cluster's hosts: the `count` addresses after the sandbox's own, another cluster name, other tokens. */
export function secondRing(s: SandboxSettings, count = s.hosts): Ring {
  return { first: s.hosts, count, clusterName: `${s.clusterName}-2`, tokenOffset: 1_000_003n };
}

/**
 * Starts a second Cassandra cluster of `count` nodes (SSH host and node each, like the sandbox's own) on the
 * addresses after the sandbox's, with empty data: the "other hosts of the same size" a backup is restored
 * onto. Stopped (and its data removed) by {@link stopSecondRing}, and by `down`.
 */
export async function startSecondRing(s: SandboxSettings, count = s.hosts): Promise<Ring> {
  const ring = secondRing(s, count);
  await stopSecondRing(s);
  for (const i of ringHosts(ring)) rmSync(join(s.hostsDir, hostAddress(i)), { recursive: true, force: true });
  const state: State = { hosts: count, processes: [] };
  const track = (p: Started) => {
    state.processes.push(p);
    writeFileSync(secondRingStateFile(s), JSON.stringify(state, null, 2) + '\n');
  };
  try {
    const sshd = await startSshHosts(s, track, ring);
    await startCassandra(s, sshd, track, ring);
  } catch (e) {
    await stopSecondRing(s);
    throw e;
  }
  return ring;
}

export async function stopSecondRing(s: SandboxSettings): Promise<void> {
  const f = secondRingStateFile(s);
  if (!existsSync(f)) return;
  const state = JSON.parse(readFileSync(f, 'utf8')) as State;
  for (const p of [...state.processes].reverse()) await stopProcess(p);
  rmSync(f, { force: true });
  for (let k = 0; k < state.hosts; k++) rmSync(join(s.hostsDir, hostAddress(s.hosts + k)), { recursive: true, force: true });
}

/** Stops every process the sandbox started; data and keys stay unless `purge`. */
export async function down(s: SandboxSettings, opts: { purge?: boolean } = {}): Promise<string[]> {
  await stopSecondRing(s);
  const state = readState(s);
  const stopped: string[] = [];
  for (const p of [...(state?.processes ?? [])].reverse()) {
    if (isRunning(p)) {
      await stopProcess(p);
      stopped.push(`${p.part} (pid ${current(p).pid})`);
    }
  }
  rmSync(stateFile(s), { force: true });
  // Data in a stopped cluster survives a restart, but a purge (or a new cluster) must load again.
  if (opts.purge) rmSync(join(s.dir, 'cassandra-data-loaded'), { force: true });
  if (opts.purge) rmSync(s.dir, { recursive: true, force: true });
  return stopped;
}
