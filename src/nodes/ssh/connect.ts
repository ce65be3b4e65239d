/**
 * Opening SSH connections to Cassandra nodes with ssh2: key authentication and strict host-key
 * checking against known_hosts (Medusa's pssh does not check host keys; we do by default).
 */
import { readFileSync } from 'node:fs';
import { Client, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
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

/** A connection was refused because the host's key is unknown, changed or revoked. Never retried. */
export class HostKeyError extends Error {
  override name = 'HostKeyError';
  constructor(message: string, readonly host: string, readonly reason: string) {
    super(message);
  }
}

/** Authentication was refused for the user and key. Never retried. */
export class SshAuthError extends Error {
  override name = 'SshAuthError';
  constructor(message: string, readonly host: string) {
    super(message);
  }
}

/** Any other failure to reach the host (refused, timed out, reset): worth retrying. */
export class SshConnectError extends Error {
  override name = 'SshConnectError';
  constructor(message: string, readonly host: string) {
    super(message);
  }
}

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

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status, or null when the command was killed by a signal. */
  code: number | null;
  signal?: string;
}

/** Runs one command on its own channel and collects its output and exit status. */
export function execCommand(client: Client, command: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err: Error | undefined, channel: ClientChannel) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let code: number | null = null;
      let signal: string | undefined;
      channel.on('data', (d: Buffer) => out.push(d));
      channel.stderr.on('data', (d: Buffer) => errOut.push(d));
      channel.on('exit', (c: number | null, s?: string) => {
        code = c;
        signal = s;
      });
      channel.on('close', () => {
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8'), code, signal });
      });
    });
  });
}

export function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}
