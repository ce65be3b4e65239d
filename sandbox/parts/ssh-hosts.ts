/**
 * SSH test hosts: one real OpenSSH sshd per loopback address 127.0.0.2 … 127.0.0.(N+1).
 *
 * Each sshd runs in its own mount and UTS namespace (`unshare --mount --uts`), so every host has
 * its own hostname and its own view of the paths a Cassandra machine cares about:
 *
 *   <sandbox>/hosts/<address>/fs/var/lib/cassandra  →  /var/lib/cassandra
 *   <sandbox>/hosts/<address>/fs/etc/cassandra      →  /etc/cassandra
 *   <sandbox>/hosts/<address>/fs/var/log/cassandra  →  /var/log/cassandra
 *   <sandbox>/hosts/<address>/fs/opt/cassandra      →  /opt/cassandra  (bin/ is on the PATH of SSH sessions)
 *
 *   <sandbox>/hosts/<address>/hosts                →  /etc/hosts       (every sandbox host by name, as DNS would have them)
 *   <sandbox>/node-tool                            →  /opt/medusa-temporal  (this tool, installed: node-tool.ts; current/bin on the PATH)
 *
 * Host i is called node<i+1> (its UTS hostname) and node<i+1>.sandbox.test, and every host's
 * /etc/hosts names all of them, so `hostname -f`, Python's socket.getfqdn() and reverse lookups of
 * the addresses answer inside a host as on a real node.
 * /tmp stays shared: the sandbox directory itself may live there, and sshd must keep reading its
 * configuration and keys after the private mounts are made.
 * A command or SFTP session on 127.0.0.3 therefore sees 127.0.0.3's files at the usual paths and
 * nothing of 127.0.0.2's. Host keys are made once and kept, so known_hosts stays valid across
 * restarts; the client logs in as root with the sandbox key.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertPortFree, portOpen, SandboxError, startDaemon, Started, waitReady } from '../proc';
import { hostAddress, mainRing, Ring, ringHosts, SandboxSettings } from '../settings';
import { NODE_TOOL_CURRENT, NODE_TOOL_PATH, nodeToolDir } from './node-tool';

/** The paths each host sees privately (mount points are created empty on the real machine if missing). */
export const PRIVATE_PATHS = ['/var/lib/cassandra', '/etc/cassandra', '/var/log/cassandra', '/opt/cassandra'];
const SSHD = '/usr/sbin/sshd';

export interface SshPaths {
  dir: string;
  key: string;
  knownHosts: string;
  authorizedKeys: string;
}

export function sshPaths(s: SandboxSettings): SshPaths {
  const dir = join(s.dir, 'ssh');
  return { dir, key: join(dir, 'id_ed25519'), knownHosts: join(dir, 'known_hosts'), authorizedKeys: join(dir, 'authorized_keys') };
}

export function hostDir(s: SandboxSettings, address: string): string {
  return join(s.hostsDir, address);
}

/** Where a host's private path lives on the real file system (e.g. for tests that plant a file on one host). */
export function hostPath(s: SandboxSettings, address: string, path: string): string {
  return join(hostDir(s, address), 'fs', path);
}

/** The domain of the sandbox hosts' names. */
export const HOST_DOMAIN = 'sandbox.test';

/** The hostname of host i (0-based): node1, node2, … */
export function hostName(i: number): string {
  return `node${i + 1}`;
}

/** /etc/hosts of every sandbox host: loopback, then each host of the sandbox and of a second ring of the same size. */
export function hostsFile(s: SandboxSettings, rings: Ring[]): string {
  const last = Math.max(2 * s.hosts, ...rings.map((r) => r.first + r.count));
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (let i = 0; i < last; i++) lines.push(`${hostAddress(i)}\t${hostName(i)}.${HOST_DOMAIN} ${hostName(i)}`);
  return `# /etc/hosts of a sandbox host (sandbox/parts/ssh-hosts.ts)\n${lines.join('\n')}\n`;
}

function keygen(file: string, comment: string): void {
  if (existsSync(file)) return;
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

function sshdConfig(s: SandboxSettings, address: string, paths: SshPaths): string {
  const dir = hostDir(s, address);
  return [
    `ListenAddress ${address}:${s.sshPort}`,
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${paths.authorizedKeys}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'StrictModes no',
    // Many workers may connect at once in tests; keep OpenSSH's real per-connection MaxSessions (10).
    'MaxStartups 100:30:200',
    'Subsystem sftp internal-sftp',
    `SetEnv SANDBOX_HOST=${address} PATH=/opt/cassandra/bin:${NODE_TOOL_CURRENT}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    '',
  ].join('\n');
}

/** Creates keys, known_hosts entries and per-host directories of a ring's hosts; idempotent. */
export function prepareSshHosts(s: SandboxSettings, ring: Ring = mainRing(s)): SshPaths {
  const paths = sshPaths(s);
  mkdirSync(paths.dir, { recursive: true });
  keygen(paths.key, 'medusa-sandbox-client');
  writeFileSync(paths.authorizedKeys, readFileSync(`${paths.key}.pub`));
  const known: string[] = [];
  for (const i of ringHosts(ring)) {
    const address = hostAddress(i);
    const dir = hostDir(s, address);
    for (const p of PRIVATE_PATHS) mkdirSync(hostPath(s, address, p), { recursive: true });
    keygen(join(dir, 'ssh_host_ed25519_key'), `sandbox-host-${address}`);
    writeFileSync(join(dir, 'sshd_config'), sshdConfig(s, address, paths));
    writeFileSync(join(dir, 'hosts'), hostsFile(s, [ring]));
    const [type, blob] = readFileSync(join(dir, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/);
    const name = s.sshPort === 22 ? address : `[${address}]:${s.sshPort}`;
    known.push(`${name} ${type} ${blob}`);
  }
  // Entries of hosts outside this ring (the other ring's) stay.
  const names = new Set(known.map((l) => l.split(' ')[0]));
  const others = existsSync(paths.knownHosts) ? readFileSync(paths.knownHosts, 'utf8').split('\n').filter((l) => l && !names.has(l.split(' ')[0])) : [];
  writeFileSync(paths.knownHosts, [...others, ...known].join('\n') + '\n');
  return paths;
}

export async function startSshHosts(s: SandboxSettings, track: (p: Started) => void, ring: Ring = mainRing(s)): Promise<Started[]> {
  if (!existsSync(SSHD)) throw new SandboxError(`${SSHD} is missing: run sandbox/install.sh ssh (installs openssh-server)`);
  for (const i of ringHosts(ring)) await assertPortFree(hostAddress(i), s.sshPort, `SSH host ${hostAddress(i)}`, 'SANDBOX_SSH_PORT');
  const hidden = PRIVATE_PATHS.find((p) => s.dir === p || s.dir.startsWith(`${p}/`));
  if (hidden) throw new SandboxError(`the sandbox directory ${s.dir} is inside ${hidden}, which each SSH host mounts privately; set MEDUSA_SANDBOX_DIR elsewhere`);
  prepareSshHosts(s, ring);
  // sshd as root insists on its privilege-separation directory.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  for (const p of [...PRIVATE_PATHS, NODE_TOOL_PATH]) mkdirSync(p, { recursive: true });
  mkdirSync(nodeToolDir(s), { recursive: true });
  const started: Started[] = [];
  for (const i of ringHosts(ring)) {
    const address = hostAddress(i);
    const dir = hostDir(s, address);
    const binds = [
      ...PRIVATE_PATHS.map((p) => `mount --bind '${hostPath(s, address, p)}' '${p}'`),
      `mount --bind '${join(dir, 'hosts')}' /etc/hosts`,
      `mount --bind '${nodeToolDir(s)}' '${NODE_TOOL_PATH}'`,
    ].join(' && ');
    const p = startDaemon({
      part: `SSH host ${address}`,
      command: 'unshare',
      // unshare execs sh, which execs sshd: the pid we record is sshd's own.
      args: ['--mount', '--uts', '--propagation', 'private', '/bin/sh', '-c',
        `hostname ${hostName(i)} && ${binds} && exec ${SSHD} -D -e -f '${join(dir, 'sshd_config')}'`],
      log: join(dir, 'sshd.log'),
    });
    track(p);
    started.push(p);
  }
  for (const i of ringHosts(ring)) {
    await waitReady(started[i - ring.first], () => portOpen(hostAddress(i), s.sshPort), 20_000);
  }
  return started;
}
