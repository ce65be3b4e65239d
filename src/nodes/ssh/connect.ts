/**
 * Opening SSH connections to Cassandra nodes with ssh2: key authentication and strict host-key
 * checking against known_hosts (Medusa's pssh does not check host keys; we do by default).
 */
import { readFileSync } from 'node:fs';
import { Client, ConnectConfig, SFTPWrapper } from 'ssh2';
import { HostKeyError, SshAuthError, SshConnectError } from './errors';
import { CommandOptions, ExecResult, startCommand } from './exec';
import { KnownHostEntry, knownKeyTypes, parseKnownHosts, verifyHostKey } from './known-hosts';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** Path of the private key (OpenSSH or PEM format, unencrypted). */
  keyFile: string;
  /** Path of the known_hosts file; required unless `insecureSkipHostKeyCheck`. */
  knownHostsFile?: string;
  insecureSkipHostKeyCheck?: boolean;
  readyTimeoutMs?: number;
  keepaliveSeconds?: number;
}

export { HostKeyError, SshAuthError, SshConnectError } from './errors';
export { startCommand } from './exec';
export type { CommandOptions, ExecResult, StartedCommand } from './exec';

export function connectSsh(t: SshTarget): Promise<Client> {
  let entries: KnownHostEntry[] = [];
  if (!t.insecureSkipHostKeyCheck) {
    if (!t.knownHostsFile) throw new HostKeyError(`no known_hosts file configured for ${t.host}`, t.host, 'unknown-host');
    entries = parseKnownHosts(readFileSync(t.knownHostsFile, 'utf8'));
  }
  let hostKeyFailure: HostKeyError | undefined;
  const config: ConnectConfig = {
    host: t.host,
    port: t.port,
    username: t.username,
    privateKey: readFileSync(t.keyFile),
    readyTimeout: t.readyTimeoutMs ?? 20_000,
    keepaliveInterval: (t.keepaliveSeconds ?? 60) * 1000,
    hostVerifier: (key: Buffer) => {
      if (t.insecureSkipHostKeyCheck) return true;
      const verdict = verifyHostKey(entries, t.host, t.port, key);
      if (!verdict.ok) hostKeyFailure = new HostKeyError(verdict.message, t.host, verdict.reason);
      return verdict.ok;
    },
  };
  const types = knownKeyTypes(entries, t.host, t.port);
  if (types.length > 0) config.algorithms = { serverHostKey: types as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    client.once('error', (err: Error & { level?: string }) => {
      client.end();
      if (hostKeyFailure) reject(hostKeyFailure);
      else if (err.level === 'client-authentication') {
        reject(new SshAuthError(`ssh ${t.username}@${t.host}:${t.port}: key ${t.keyFile} was refused`, t.host));
      } else reject(new SshConnectError(`ssh ${t.host}:${t.port}: ${err.message}`, t.host));
    });
    client.connect(config);
  });
}

/**
 * Runs one command on its own channel and collects its output and exit status; see
 * {@link startCommand} for abort and connection-loss behaviour.
 */
export function execCommand(client: Client, command: string, options?: CommandOptions): Promise<ExecResult> {
  return startCommand(client, command, options).result;
}

export function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}
