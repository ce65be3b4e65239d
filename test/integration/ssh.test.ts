/**
 * Smoke test of the real SSH hosts (OpenSSH sshd, one per loopback address, each in its own
 * mount namespace) through our ssh2 connection code: per-host answers and exit codes, per-host
 * files over SFTP, strict host-key checking, and OpenSSH's real per-connection session limit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { hostPath } from '../../sandbox/parts/ssh-hosts';
import { loadSettings } from '../../sandbox/settings';
import { connectSsh, execCommand, HostKeyError, openSftp, SshAuthError, SshTarget } from '../../src/nodes/ssh/connect';
import { sandbox, uniqueId } from '../support/env';

const hosts = () => sandbox('SANDBOX_SSH_HOSTS').split(',');
const target = (host: string, extra: Partial<SshTarget> = {}): SshTarget => ({
  host, port: Number(sandbox('SANDBOX_SSH_PORT')), username: sandbox('SANDBOX_SSH_USER'),
  keyFile: sandbox('SANDBOX_SSH_KEY'), knownHostsFile: sandbox('SANDBOX_SSH_KNOWN_HOSTS'), ...extra,
});

async function withSsh<T>(t: SshTarget, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await connectSsh(t);
  try {
    return await fn(c);
  } finally {
    c.end();
  }
}

test('every host runs a command and gives its own answer and exit code', async () => {
  const s = loadSettings();
  const marker = uniqueId('m');
  for (const h of hosts()) writeFileSync(hostPath(s, h, '/etc/cassandra/marker'), `${marker}@${h}\n`);
  expect(hosts().length).toBeGreaterThanOrEqual(2);
  for (const [i, h] of hosts().entries()) {
    const r = await withSsh(target(h), (c) => execCommand(c, 'echo "$SANDBOX_HOST $(hostname)"; cat /etc/cassandra/marker; echo oops >&2; exit 7'));
    expect(r.stdout).toBe(`${h} node${i + 1}\n${marker}@${h}\n`);
    expect(r.stderr).toBe('oops\n');
    expect(r.code).toBe(7);
  }
});

test('SFTP reads a file that exists on one host only', async () => {
  const s = loadSettings();
  const [first, second] = hosts();
  const dir = `/var/lib/cassandra/data/${uniqueId('ks')}`;
  mkdirSync(hostPath(s, first, dir), { recursive: true });
  writeFileSync(hostPath(s, first, `${dir}/nb-1-big-Data.db`), 'only on the first host');
  const read = (h: string) => withSsh(target(h), async (c) => {
    const sftp = await openSftp(c);
    return new Promise<string>((resolve, reject) => sftp.readFile(`${dir}/nb-1-big-Data.db`, (err, buf) => (err ? reject(err) : resolve(buf.toString()))));
  });
  await expect(read(first)).resolves.toBe('only on the first host');
  await expect(read(second)).rejects.toMatchObject({ code: 2 }); // SSH_FX_NO_SUCH_FILE
});

test('a host whose key does not match known_hosts is refused, and so is a host missing from it', async () => {
  const [first, second] = hosts();
  const port = sandbox('SANDBOX_SSH_PORT');
  const known = readFileSync(sandbox('SANDBOX_SSH_KNOWN_HOSTS'), 'utf8').split('\n');
  const secondKey = known.find((l) => l.startsWith(`[${second}]:${port} `))!.split(' ').slice(1).join(' ');
  const dir = join(tmpdir(), uniqueId('kh'));
  mkdirSync(dir);
  const wrong = join(dir, 'known_hosts_wrong');
  writeFileSync(wrong, `[${first}]:${port} ${secondKey}\n`);
  const err = await connectSsh(target(first, { knownHostsFile: wrong })).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HostKeyError);
  expect((err as HostKeyError).reason).toBe('mismatch');
  expect((err as Error).message).toContain(`[${first}]:${port}`);

  const unknown = join(dir, 'known_hosts_other');
  writeFileSync(unknown, `[${second}]:${port} ${secondKey}\n`);
  await expect(connectSsh(target(first, { knownHostsFile: unknown }))).rejects.toMatchObject({ name: 'HostKeyError', reason: 'unknown-host' });
});

test('a key the host does not authorize is refused as an authentication error', async () => {
  const dir = join(tmpdir(), uniqueId('key'));
  mkdirSync(dir);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  const err = await connectSsh(target(hosts()[0], { keyFile: join(dir, 'id') })).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SshAuthError);
});

test("OpenSSH's limit of 10 sessions per connection is real: the 11th concurrent channel is refused", async () => {
  await withSsh(target(hosts()[0]), async (c) => {
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => execCommand(c, 'sleep 1; echo ok')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)))
      .toEqual([expect.stringContaining('Channel open failure'), expect.stringContaining('Channel open failure')]);
  });
});
