/**
 * OpenSSH known_hosts, read the way `ssh` reads it: plain host lists (with `*`/`?` patterns and
 * `!` negation), hashed entries (`|1|salt|hmac`), `[host]:port` for non-default ports, and the
 * `@revoked` marker. `@cert-authority` lines are not used (we do not accept host certificates).
 *
 * Pure code: the caller reads the file.
 */
import { createHmac } from 'node:crypto';

export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority';
  /** Comma-separated host patterns, or one hashed name `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  /** The public key blob, base64 (as in the file). */
  key: string;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    if (fields.length < 3) continue;
    entries.push({ marker, hosts: fields[0], keyType: fields[1], key: fields[2] });
  }
  return entries;
}

/** The name `ssh` looks up for a host: `host` on port 22, `[host]:port` otherwise. */
export function hostLookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function hashedMatches(hashed: string, name: string): boolean {
  const [, magic, salt, hash] = hashed.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

/** Whether an entry's host field names `host:port` (negated patterns exclude, as in OpenSSH). */
export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = hostLookupName(host, port);
  if (entry.hosts.startsWith('|')) return hashedMatches(entry.hosts, name);
  let matched = false;
  for (const pattern of entry.hosts.split(',')) {
    const negated = pattern.startsWith('!');
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export type HostKeyVerdict =
  | { ok: true }
  | { ok: false; reason: 'unknown-host' | 'mismatch' | 'revoked'; message: string };

/**
 * Checks a server's host key blob against known_hosts, as `StrictHostKeyChecking yes` does:
 * a revoked key is refused, a host with no entry is refused, a host whose entries hold other keys is refused.
 */
export function verifyHostKey(entries: KnownHostEntry[], host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const key = keyBlob.toString('base64');
  const name = hostLookupName(host, port);
  if (entries.some((e) => e.marker === '@revoked' && e.key === key)) {
    return { ok: false, reason: 'revoked', message: `host key of ${name} is marked @revoked in known_hosts` };
  }
  const forHost = entries.filter((e) => e.marker === undefined && entryMatches(e, host, port));
  if (forHost.some((e) => e.key === key)) return { ok: true };
  if (forHost.length === 0) {
    return { ok: false, reason: 'unknown-host', message: `${name} is not in known_hosts; add its host key (ssh-keyscan) before connecting` };
  }
  return {
    ok: false, reason: 'mismatch',
    message: `host key of ${name} does not match known_hosts (possible man-in-the-middle, or the host was rebuilt)`,
  };
}

/** Key types known for a host, to offer the server only algorithms we can verify. */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  return [...new Set(entries.filter((e) => e.marker === undefined && entryMatches(e, host, port)).map((e) => e.keyType))];
}
