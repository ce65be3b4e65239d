/**
 * medusa.ini, read with Medusa's section and key names and defaults (medusa/config.py), plus the
 * few keys Medusa lacks (`[ssh] known_hosts`, `[ssh] strict_host_key_checking`, and `[orchestration]`: how
 * the workers reach the nodes).
 *
 * The configuration lives with the worker: secrets (the storage key file, SSH keys, CQL and JMX
 * passwords) are read here and never travel in workflow inputs. Only `loadMedusaConfig` reads the
 * file system and the environment; the rest is pure and unit-tested.
 */
import { parse } from 'ini';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { systemHostNames } from '../nodes/host-names';
import { HostNameLookups, medusaNodeName } from '../plan/node-name';
import { parseSize } from './sizes';

export interface StorageConfig {
  storageProvider: string;
  bucketName: string;
  keyFile?: string;
  /**
   * Storage credentials already read (never from medusa.ini): what a node-side step gets from the
   * central worker over SSH instead of the key file, which stays with the worker.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  basePath?: string;
  /** '' when no prefix; never contains '/'. */
  prefix: string;
  fqdn: string;
  region: string;
  apiProfile?: string;
  storageClass?: string;
  host?: string;
  port?: number;
  secure: boolean;
  sslVerify: boolean;
  s3AddressingStyle: 'auto' | 'path' | 'virtual';
  kmsId?: string;
  sseCKey?: string;
  concurrentTransfers: number;
  multiPartUploadThreshold: number;
  multipartChunkSize: number;
  multipartMaxConcurrency: number;
  /** Bytes per second, 0 = unlimited. */
  transferMaxBandwidth: number;
  maxBackupAge: number;
  maxBackupCount: number;
  backupGracePeriodInDays: number;
  /** Restores move files into the data directory and chown them with sudo (Medusa's default: True). */
  useSudoForRestore: boolean;
}

export interface CassandraConfig {
  configFile: string;
  nodetoolExecutable: string;
  nodetoolFlags: string;
  nodetoolUsername?: string;
  nodetoolPassword?: string;
  nodetoolPasswordFilePath?: string;
  nodetoolHost?: string;
  nodetoolPort?: number;
  nodetoolSsl: boolean;
  cqlUsername?: string;
  cqlPassword?: string;
  useSudo: boolean;
  resolveIpAddresses: boolean;
  /** Run on the node to start / stop Cassandra (restores); Medusa's defaults. */
  startCmd: string;
  stopCmd: string;
}

export interface SshConfig {
  username: string;
  keyFile?: string;
  port: number;
  keepaliveSeconds: number;
  knownHosts: string;
  strictHostKeyChecking: boolean;
}

export interface ChecksConfig {
  enableMd5Checks: boolean;
  md5CheckConcurrency: number;
  /** Medusa's restore verification: a CQL query, the number of rows it must return, and optionally their text. */
  query?: string;
  expectedRows?: number;
  expectedResult?: string;
}

/**
 * How node steps reach the nodes. `ssh` (the default): the central worker logs into each node and
 * starts this tool there (`node_command`), which moves the node's bytes straight to and from storage.
 * `agentless`: nothing installed on the nodes; the central worker pulls the files over SFTP and sends
 * them on itself (small clusters). `worker`: a worker on each node polls the node's own task queue.
 */
export type NodeAccess = 'ssh' | 'agentless' | 'worker';

export const NODE_ACCESS_VALUES: readonly NodeAccess[] = ['ssh', 'agentless', 'worker'];

export interface OrchestrationConfig {
  nodeAccess: NodeAccess;
  /** With `ssh`: the command line that runs this tool on a node (its login shell finds it; default `medusa`). */
  nodeCommand: string;
  /** Task queue of the worker on a node; `{fqdn}` is replaced by the node's name. */
  nodeTaskQueue: string;
}

export const DEFAULT_NODE_TASK_QUEUE = 'medusa-node-{fqdn}';

/** The task queue of the worker on node `fqdn`, from the `node_task_queue` template. */
export function nodeTaskQueueOf(o: OrchestrationConfig, fqdn: string): string {
  return o.nodeTaskQueue.split('{fqdn}').join(fqdn);
}

/** `[temporal]` (not Medusa's): a Temporal cluster to use; without an address, the embedded server. */
export interface TemporalConfig {
  address?: string;
  namespace?: string;
  /** Where the embedded server keeps its database and state (default ~/.local/state/medusa-temporal). */
  stateDir?: string;
}

export interface MedusaConfig {
  file: string;
  storage: StorageConfig;
  cassandra: CassandraConfig;
  ssh: SshConfig;
  checks: ChecksConfig;
  orchestration: OrchestrationConfig;
  temporal: TemporalConfig;
}

/** Medusa's global command-line overrides (they win over the file). */
export interface ConfigOverrides {
  bucketName?: string;
  prefix?: string;
  fqdn?: string;
  keyFile?: string;
}

/** A configuration problem: one line naming the file, the key and what is wrong. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Section = Record<string, string | undefined>;

function bool(v: string | undefined, fallback: boolean, what: string): boolean {
  if (v === undefined || v.trim() === '') return fallback;
  const t = v.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(t)) return true;
  if (['false', 'no', '0', 'off'].includes(t)) return false;
  throw new Error(`${what} = ${v} is not true or false`);
}

function int(v: string | undefined, fallback: number, what: string, min = 0): number {
  if (v === undefined || v.trim() === '') return fallback;
  const n = Number(v.trim());
  if (!Number.isInteger(n) || n < min) throw new Error(`${what} = ${v} is not a whole number ≥ ${min}`);
  return n;
}

const opt = (v: string | undefined) => (v === undefined || v.trim() === '' || v.trim() === 'None' ? undefined : v.trim());

export interface ConfigEnvironment {
  env: Record<string, string | undefined>;
  /** This host's name lookups, for the default `[storage] fqdn` (Medusa's rules, src/plan/node-name.ts). */
  hostNames: HostNameLookups;
  home: string;
}

/** Builds the configuration from parsed ini sections; pure. */
export function buildMedusaConfig(file: string, sections: Record<string, Section>, overrides: ConfigOverrides, e: ConfigEnvironment): MedusaConfig {
  const at = (section: string, key: string) => `[${section}] ${key} in ${file}`;
  const st: Section = sections.storage ?? {};
  const ca: Section = sections.cassandra ?? {};
  const sh: Section = sections.ssh ?? {};
  const ch: Section = sections.checks ?? {};
  const or: Section = sections.orchestration ?? {};
  const te: Section = sections.temporal ?? {};
  try {
    const storageProvider = opt(st.storage_provider);
    if (!storageProvider) throw new Error(`${at('storage', 'storage_provider')} is required (local, s3, s3_compatible, …)`);
    const bucketName = overrides.bucketName ?? opt(st.bucket_name);
    if (!bucketName) throw new Error(`${at('storage', 'bucket_name')} is required`);
    if (bucketName.includes('/')) throw new Error(`bucket_name ${bucketName} must not contain '/'`);
    const prefix = overrides.prefix ?? opt(st.prefix) ?? '';
    // Medusa lets MEDUSA_RESOLVE_IP_ADDRESSES override the file, and names this node from the text as written.
    const resolveIpAddresses = (e.env.MEDUSA_RESOLVE_IP_ADDRESSES ?? ca.resolve_ip_addresses ?? 'True').trim();
    if (prefix.includes('/')) throw new Error(`prefix ${prefix} must not contain '/'`);
    // Medusa only honours prefixes longer than one character in the index (see reference §1.4): refuse the trap.
    if (prefix.length === 1) throw new Error(`prefix ${prefix} is one character: Medusa would put the index and the data in different places; use a longer prefix`);
    const provider = storageProvider.toLowerCase();
    if (provider !== 'local' && !provider.startsWith('s3') && provider !== 'ibm_storage') {
      throw new Error(`${at('storage', 'storage_provider')} = ${storageProvider} is not supported yet (local, s3, s3_compatible, s3_rgw, ibm_storage)`);
    }
    const basePath = opt(st.base_path);
    if (provider === 'local' && !basePath) throw new Error(`${at('storage', 'base_path')} is required with storage_provider = local`);
    if (provider === 's3_compatible' && !opt(st.host)) throw new Error(`${at('storage', 'host')} is required with storage_provider = s3_compatible`);
    const style = (opt(st.s3_addressing_style) ?? 'auto').toLowerCase();
    if (!['auto', 'path', 'virtual'].includes(style)) throw new Error(`${at('storage', 's3_addressing_style')} = ${style} is not auto, path or virtual`);
    const storage: StorageConfig = {
      storageProvider: provider,
      bucketName,
      keyFile: overrides.keyFile ?? opt(st.key_file),
      basePath,
      prefix,
      fqdn: medusaNodeName(overrides.fqdn ?? opt(st.fqdn), resolveIpAddresses, e.hostNames),
      region: opt(st.region) ?? 'default',
      apiProfile: opt(st.api_profile),
      storageClass: opt(st.storage_class),
      host: opt(st.host),
      port: st.port === undefined || st.port.trim() === '' ? undefined : int(st.port, 0, at('storage', 'port'), 1),
      secure: bool(st.secure, true, at('storage', 'secure')),
      sslVerify: bool(st.ssl_verify, false, at('storage', 'ssl_verify')),
      s3AddressingStyle: style as StorageConfig['s3AddressingStyle'],
      kmsId: opt(st.kms_id),
      sseCKey: opt(st.sse_c_key),
      concurrentTransfers: int(st.concurrent_transfers, 1, at('storage', 'concurrent_transfers'), 1),
      multiPartUploadThreshold: parseSize(opt(st.multi_part_upload_threshold) ?? '20MB', at('storage', 'multi_part_upload_threshold')),
      multipartChunkSize: parseSize(opt(st.multipart_chunksize) ?? '50MB', at('storage', 'multipart_chunksize')),
      multipartMaxConcurrency: int(st.multipart_max_concurrency, 4, at('storage', 'multipart_max_concurrency'), 1),
      transferMaxBandwidth: parseSize(opt(st.transfer_max_bandwidth) ?? '50MB/s', at('storage', 'transfer_max_bandwidth')),
      maxBackupAge: int(st.max_backup_age, 0, at('storage', 'max_backup_age')),
      maxBackupCount: int(st.max_backup_count, 0, at('storage', 'max_backup_count')),
      backupGracePeriodInDays: int(st.backup_grace_period_in_days, 10, at('storage', 'backup_grace_period_in_days')),
      useSudoForRestore: bool(st.use_sudo_for_restore, true, at('storage', 'use_sudo_for_restore')),
    };
    if (storage.multipartChunkSize < 5 * 1024 * 1024) throw new Error(`${at('storage', 'multipart_chunksize')} must be at least 5MB (the S3 minimum part size)`);
    const cassandra: CassandraConfig = {
      configFile: opt(ca.config_file) ?? '/etc/cassandra/cassandra.yaml',
      nodetoolExecutable: opt(ca.nodetool_executable) ?? 'nodetool',
      nodetoolFlags: ca.nodetool_flags ?? '-Dcom.sun.jndi.rmiURLParsing=legacy',
      nodetoolUsername: opt(ca.nodetool_username),
      nodetoolPassword: opt(ca.nodetool_password),
      nodetoolPasswordFilePath: opt(ca.nodetool_password_file_path),
      nodetoolHost: opt(ca.nodetool_host),
      nodetoolPort: ca.nodetool_port ? int(ca.nodetool_port, 0, at('cassandra', 'nodetool_port'), 1) : undefined,
      nodetoolSsl: bool(ca.nodetool_ssl, false, at('cassandra', 'nodetool_ssl')),
      cqlUsername: e.env.MEDUSA_CQL_USERNAME ?? opt(ca.cql_username),
      cqlPassword: e.env.MEDUSA_CQL_PASSWORD ?? opt(ca.cql_password),
      useSudo: bool(ca.use_sudo, true, at('cassandra', 'use_sudo')),
      resolveIpAddresses: bool(resolveIpAddresses, true, at('cassandra', 'resolve_ip_addresses')),
      startCmd: opt(ca.start_cmd) ?? 'sudo service cassandra start',
      stopCmd: opt(ca.stop_cmd) ?? 'sudo service cassandra stop',
    };
    const ssh: SshConfig = {
      username: opt(sh.username) ?? e.env.USER ?? 'root',
      // Medusa's --key-file also overwrites [ssh] key_file (a bug): here it is the storage key only.
      keyFile: opt(sh.key_file),
      port: int(sh.port, 22, at('ssh', 'port'), 1),
      keepaliveSeconds: int(sh.keepalive_seconds, 60, at('ssh', 'keepalive_seconds')),
      knownHosts: opt(sh.known_hosts) ?? join(e.home, '.ssh', 'known_hosts'),
      strictHostKeyChecking: bool(sh.strict_host_key_checking, true, at('ssh', 'strict_host_key_checking')),
    };
    const checks: ChecksConfig = {
      enableMd5Checks: bool(ch.enable_md5_checks, false, at('checks', 'enable_md5_checks')),
      md5CheckConcurrency: int(ch.md5_check_concurrency, 1, at('checks', 'md5_check_concurrency'), 1),
      query: opt(ch.query),
      expectedRows: ch.expected_rows === undefined || ch.expected_rows.trim() === '' ? undefined : int(ch.expected_rows, 0, at('checks', 'expected_rows')),
      expectedResult: opt(ch.expected_result),
    };
    const nodeAccess = (opt(or.node_access) ?? 'ssh').toLowerCase() as NodeAccess;
    if (!NODE_ACCESS_VALUES.includes(nodeAccess)) throw new Error(`${at('orchestration', 'node_access')} = ${String(or.node_access)} is not one of ${NODE_ACCESS_VALUES.join(', ')}`);
    const queueTemplate = opt(or.node_task_queue) ?? DEFAULT_NODE_TASK_QUEUE;
    if (!queueTemplate.includes('{fqdn}')) throw new Error(`${at('orchestration', 'node_task_queue')} = ${queueTemplate} must contain {fqdn}: every node needs its own queue`);
    const orchestration: OrchestrationConfig = { nodeAccess, nodeCommand: opt(or.node_command) ?? 'medusa', nodeTaskQueue: queueTemplate };
    const temporal: TemporalConfig = { address: opt(te.address), namespace: opt(te.namespace), stateDir: opt(te.state_dir) };
    return { file, storage, cassandra, ssh, checks, orchestration, temporal };
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Reads and checks medusa.ini (default /etc/medusa/medusa.ini). */
export function loadMedusaConfig(file: string, overrides: ConfigOverrides = {}): MedusaConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `config file ${file} does not exist (set --config-file or MEDUSA_CONFIG_FILE)` : `cannot read config file ${file}: ${code ?? (err as Error).message}`);
  }
  // The ini parser turns true/false into booleans and repeated keys into arrays: bring every value back to text.
  const sections: Record<string, Section> = {};
  for (const [name, body] of Object.entries(parse(text) as Record<string, unknown>)) {
    if (body && typeof body === 'object') {
      sections[name] = Object.fromEntries(Object.entries(body as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? String(v[v.length - 1]) : String(v)]));
    }
  }
  return buildMedusaConfig(file, sections, overrides, { env: process.env, hostNames: systemHostNames, home: homedir() });
}
