/**
 * The real Python Medusa (PyPI `cassandra-medusa`, pinned in sandbox/settings.ts, in its own virtual environment
 * under the sandbox cache: `sandbox/install.sh medusa`, run by the global setup), the reference our backups are held
 * to. It runs as its users run it: `medusa --config-file F …` on this machine to read a catalogue, or inside a sandbox
 * node's mount and UTS namespaces — where that node's /etc/cassandra, data directory and nodetool are, exactly as
 * on a Cassandra machine — to back the node up itself. The medusa.ini files here use Medusa's own keys only.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CASSANDRA_MEDUSA_VERSION, loadSettings, pythonMedusaBin } from '../../sandbox/settings';
import { CliRun, runProgram } from './cli';
import { sandbox } from './env';
import { inHost, NODES, onNode, snapshotsLeft } from './nodes';

export { CASSANDRA_MEDUSA_VERSION };

/** Where the tests' storage is: the sandbox's local storage directory, or its S3 server. */
export type PythonMedusaStorage = 'local' | 's3';

export interface PythonMedusaIni {
  storage: PythonMedusaStorage;
  /** `[storage] prefix`: one per test, so its catalogue holds only its own backups. */
  prefix: string;
  /**
   * `[storage] fqdn`, the node Medusa acts as (default 127.0.0.2); the node's address, as in our token maps.
   * `null`: no fqdn line, as on a node, where Medusa names the host itself.
   */
  fqdn?: string | null;
  /** `[cassandra] resolve_ip_addresses` (default False: addresses, as in the sandbox's token maps). */
  resolveIpAddresses?: 'True' | 'False';
  /** Without an [ssh] section, as a node's medusa.ini usually is (default: with one, for backup-cluster). */
  noSsh?: boolean;
}

/** The `medusa` of the virtual environment; fails with the command that installs it when it is missing. */
export function pythonMedusaCommand(): string {
  const bin = pythonMedusaBin(loadSettings());
  if (!existsSync(bin)) throw new Error(`Python Medusa ${CASSANDRA_MEDUSA_VERSION} is not installed at ${bin}: run \`bash sandbox/install.sh medusa\``);
  return bin;
}

/**
 * Writes a medusa.ini for Python Medusa into a fresh directory under the OS temp dir (/tmp is shared with the
 * sandbox hosts' namespaces, so a node sees the same file) and returns its path.
 * - [cassandra]: the node's own cassandra.yaml and nodetool (/opt/cassandra/bin inside a node), no sudo (we are root),
 *   and addresses kept as addresses (resolve_ip_addresses = False), so Medusa's fqdn and token map use 127.0.0.N.
 * - [storage]: the sandbox's local storage directory, or its S3 server as `s3_compatible` with the sandbox's key file,
 *   an AWS credentials file (`[default]` aws_access_key_id / aws_secret_access_key), which Medusa reads as such.
 */
export function writePythonMedusaIni(o: PythonMedusaIni): string {
  const storage = o.storage === 'local'
    ? [
      'storage_provider = local',
      `base_path = ${join(sandbox('SANDBOX_DIR'), 'storage')}`,
      `bucket_name = ${sandbox('SANDBOX_S3_BUCKET')}`,
    ]
    : (() => {
      const endpoint = new URL(sandbox('SANDBOX_S3_ENDPOINT'));
      return [
        'storage_provider = s3_compatible',
        `bucket_name = ${sandbox('SANDBOX_S3_BUCKET')}`,
        `host = ${endpoint.hostname}`,
        `port = ${endpoint.port}`,
        'secure = False',
        's3_addressing_style = path',
        `region = ${sandbox('SANDBOX_S3_REGION')}`,
        `key_file = ${sandbox('SANDBOX_S3_KEY_FILE')}`,
      ];
    })();
  const ini = `; Python Medusa ${CASSANDRA_MEDUSA_VERSION} on the sandbox, written by test/support/python-medusa.ts.
[cassandra]
config_file = /etc/cassandra/cassandra.yaml
nodetool_executable = /opt/cassandra/bin/nodetool
use_sudo = False
resolve_ip_addresses = ${o.resolveIpAddresses ?? 'False'}

[storage]
${storage.join('\n')}
prefix = ${o.prefix}
${o.fqdn === null ? '' : `fqdn = ${o.fqdn ?? '127.0.0.2'}\n`}concurrent_transfers = 4
${o.noSsh ? '' : `
[ssh]
username = root
key_file = ${sandbox('SANDBOX_SSH_KEY')}
port = ${sandbox('SANDBOX_SSH_PORT')}
`}
[checks]
enable_md5_checks = False
`;
  const file = join(mkdtempSync(join(tmpdir(), 'python-medusa-')), 'medusa.ini');
  writeFileSync(file, ini);
  return file;
}

const run = runProgram;

/** `medusa --config-file <ini> …args` on this machine (catalogue commands: list-backups, status, verify, …). */
export function pythonMedusa(ini: string, args: string[]): Promise<CliRun> {
  return run(pythonMedusaCommand(), ['--config-file', ini, ...args], {}, tmpdir());
}

/**
 * `medusa --config-file <ini> …args` on a sandbox node: inside the mount and UTS namespaces of that host's sshd
 * (`nsenter --target <pid> --mount --uts`, as the node-local worker runs), so /etc/cassandra, /var/lib/cassandra and
 * nodetool are that node's. The network is the machine's: Medusa reaches the node's CQL port at its address.
 */
export function pythonMedusaOnNode(host: string, ini: string, args: string[]): Promise<CliRun> {
  return inHost(host, [pythonMedusaCommand(), '--config-file', ini, ...args], {}, tmpdir());
}

export interface MedusaWrittenBackup {
  /** The medusa.ini Python Medusa used (its [storage] is where the backup is). */
  ini: string;
  storage: PythonMedusaStorage;
  prefix: string;
  backupName: string;
  host: string;
  mode: 'full' | 'differential';
  /** What `medusa backup` returned and printed. */
  run: CliRun;
}

/**
 * A backup written by Python Medusa itself: `medusa backup --backup-name <name> --mode <mode>` on sandbox node `host`
 * (default 127.0.0.2) into `prefix` of the sandbox's local storage (or S3). Python Medusa snapshots the node with
 * nodetool, uploads the snapshot and writes its index and manifest. The snapshot `medusa-<name>` is cleared afterwards
 * whatever happened (Medusa clears it on success only), and its absence checked. Fails unless Medusa exits 0.
 * For tests of our own catalogue commands (list-backups, status, verify) on a catalogue Medusa wrote.
 */
export async function backupWithPythonMedusa(o: {
  prefix: string; backupName: string; host?: string; mode?: 'full' | 'differential'; storage?: PythonMedusaStorage;
}): Promise<MedusaWrittenBackup> {
  const host = o.host ?? '127.0.0.2';
  const storage = o.storage ?? 'local';
  const mode = o.mode ?? 'differential';
  const ini = writePythonMedusaIni({ storage, prefix: o.prefix, fqdn: host });
  const tag = `medusa-${o.backupName}`;
  let r: CliRun;
  try {
    r = await pythonMedusaOnNode(host, ini, ['backup', '--backup-name', o.backupName, '--mode', mode]);
  } finally {
    await onNode(host, `nodetool clearsnapshot -t ${tag}`);
  }
  if (r.code !== 0) throw new Error(`Python Medusa's backup ${o.backupName} of ${host} exited ${r.code}:\n${r.stderr.slice(-4000)}`);
  const left = await snapshotsLeft(tag);
  if (left.length > 0) throw new Error(`snapshot ${tag} is still on the node after clearsnapshot: ${left.join(', ')}`);
  return { ini, storage, prefix: o.prefix, backupName: o.backupName, host, mode, run: r };
}

/**
 * A complete cluster backup written by Python Medusa: `backupWithPythonMedusa` on every sandbox node in turn, as
 * Medusa's backup-cluster runs `medusa backup` on each node. In turn, not at once: Medusa refuses to start while its
 * marker /tmp/medusa_backup_in_progress exists, and /tmp is one directory for all sandbox hosts.
 */
export async function clusterBackupWithPythonMedusa(o: {
  prefix: string; backupName: string; mode?: 'full' | 'differential'; storage?: PythonMedusaStorage; hosts?: string[];
}): Promise<MedusaWrittenBackup[]> {
  const done: MedusaWrittenBackup[] = [];
  for (const host of o.hosts ?? NODES) done.push(await backupWithPythonMedusa({ ...o, host }));
  return done;
}
