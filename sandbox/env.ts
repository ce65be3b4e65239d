/** What a running sandbox offers to its users: shell exports and a ready medusa.ini. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { s3Credentials, s3Endpoint, S3_BUCKET, S3_REGION } from './parts/s3';
import { sshPaths } from './parts/ssh-hosts';
import { TEMPORAL_HOST } from './parts/temporal';
import { hostAddress, SandboxSettings, temporalCli } from './settings';

export function medusaIniPath(s: SandboxSettings): string {
  return join(s.dir, 'medusa.ini');
}

export function sandboxEnv(s: SandboxSettings): Record<string, string> {
  const creds = s3Credentials(s);
  const ssh = sshPaths(s);
  return {
    TEMPORAL_ADDRESS: `${TEMPORAL_HOST}:${s.temporalPort}`,
    TEMPORAL_NAMESPACE: 'default',
    SANDBOX_TEMPORAL_UI: `http://${TEMPORAL_HOST}:${s.temporalUiPort}`,
    TEMPORAL_CLI: temporalCli(s),
    SANDBOX_S3_ENDPOINT: s3Endpoint(s),
    SANDBOX_S3_BUCKET: S3_BUCKET,
    SANDBOX_S3_REGION: S3_REGION,
    SANDBOX_S3_ACCESS_KEY_ID: creds.accessKeyId,
    SANDBOX_S3_SECRET_ACCESS_KEY: creds.secretAccessKey,
    SANDBOX_S3_KEY_FILE: creds.file,
    SANDBOX_S3_DATA_DIR: join(s.dir, 's3', 'data'),
    SANDBOX_SSH_HOSTS: Array.from({ length: s.hosts }, (_, i) => hostAddress(i)).join(','),
    SANDBOX_SSH_PORT: String(s.sshPort),
    SANDBOX_SSH_USER: 'root',
    SANDBOX_SSH_KEY: ssh.key,
    SANDBOX_SSH_KNOWN_HOSTS: ssh.knownHosts,
    SANDBOX_DIR: s.dir,
    MEDUSA_CONFIG_FILE: medusaIniPath(s),
  };
}

const shellQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

export function renderExports(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`).join('\n') + '\n';
}

/** medusa.ini for the sandbox: Medusa's sections and keys; local storage, S3 as a commented alternative. */
export function renderMedusaIni(s: SandboxSettings): string {
  const ssh = sshPaths(s);
  return `; medusa.ini for the sandbox, written by \`npm run sandbox -- up\`.
; Section and key names are cassandra-medusa's, so the same file serves Python Medusa.

[cassandra]
config_file = /etc/cassandra/cassandra.yaml
nodetool_executable = nodetool
use_sudo = False
; The nodes are known by their addresses (127.0.0.2 …), as in the token map.
resolve_ip_addresses = False
; How a restore stops and starts a node (run on the node; see sandbox/parts/cassandra.ts).
stop_cmd = /opt/cassandra/bin/cassandra-stop
start_cmd = /opt/cassandra/bin/cassandra-start

[storage]
storage_provider = local
base_path = ${join(s.dir, 'storage')}
bucket_name = ${S3_BUCKET}
concurrent_transfers = 4
max_backup_age = 0
max_backup_count = 0
; Restores run as root over SSH: no sudo.
use_sudo_for_restore = False

; The sandbox's S3 server instead of local storage: replace the [storage] lines above with these.
; storage_provider = s3_compatible
; bucket_name = ${S3_BUCKET}
; host = ${TEMPORAL_HOST}
; port = ${s.s3Port}
; secure = False
; s3_addressing_style = path
; region = ${S3_REGION}
; key_file = ${s3Credentials(s).file}

[ssh]
username = root
key_file = ${ssh.key}
port = ${s.sshPort}
; Not a Medusa key: host keys are checked against this file (Medusa does not check them at all).
known_hosts = ${ssh.knownHosts}

[checks]
enable_md5_checks = False

; Not Medusa's: how the central worker reaches the nodes. ssh (the default): it logs in and runs this tool there
; (installed on every sandbox host at /opt/medusa-temporal, on the PATH), which moves the bytes between the node
; and storage. agentless: it pulls the files over SFTP itself. worker: a \`medusa worker --node-local\` on each node.
[orchestration]
node_access = ssh
node_command = medusa
`;
}

export function writeMedusaIni(s: SandboxSettings): string {
  const file = medusaIniPath(s);
  mkdirSync(join(s.dir, 'storage', S3_BUCKET), { recursive: true });
  writeFileSync(file, renderMedusaIni(s));
  return file;
}
