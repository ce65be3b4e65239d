/** Looking at a sandbox node over SSH, the way an operator would, to check what a backup did there. */
import { status } from '../../sandbox/index';
import { NODE_TOOL_CURRENT } from '../../sandbox/parts/node-tool';
import { loadSettings } from '../../sandbox/settings';
import { connectSsh, execCommand } from '../../src/nodes/ssh/connect';
import { CliRun, runProgram } from './cli';
import { sandbox } from './env';

/** This tool as installed on every sandbox host (the release artifact, sandbox/parts/node-tool.ts). */
export const NODE_MEDUSA = `${NODE_TOOL_CURRENT}/bin/medusa`;

/** The PATH of a sandbox host's sessions: its nodetool, then the installed tool. */
export const HOST_PATH = `/opt/cassandra/bin:${NODE_TOOL_CURRENT}/bin:${process.env.PATH ?? '/usr/bin:/bin'}`;

/** The pid of a host's sshd, whose mount and UTS namespaces are the host's. */
export function hostPid(host: string): number {
  const sshd = status(loadSettings()).find((p) => p.part === `SSH host ${host}`);
  if (!sshd?.running) throw new Error(`the sandbox's SSH host ${host} is not running`);
  return sshd.pid;
}

/**
 * Runs `argv` on a sandbox host as a program on that machine would run — inside the host's mount and UTS
 * namespaces (its /etc/cassandra, data, /etc/hosts, hostname and installed tool), with the host's PATH —
 * without SSH. The network is the machine's.
 */
export function inHost(host: string, argv: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<CliRun> {
  return runProgram('nsenter', ['--target', String(hostPid(host)), '--mount', '--uts', '--', ...argv], { PATH: HOST_PATH, ...env }, cwd);
}

/** Runs a command on a sandbox host as root; a non-zero exit fails the test with the command's stderr. */
export async function onNode(host: string, command: string): Promise<string> {
  const c = await connectSsh({ host, port: Number(sandbox('SANDBOX_SSH_PORT')), username: 'root', keyFile: sandbox('SANDBOX_SSH_KEY'), knownHostsFile: sandbox('SANDBOX_SSH_KNOWN_HOSTS') });
  try {
    const r = await execCommand(c, command);
    if (r.code !== 0) throw new Error(`${host}: ${command}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  } finally {
    c.end();
  }
}

/** Files of a snapshot on a node, as `<ks>/<table_dir>[/.<idx>]/<file>` → size (Cassandra's own manifest.json/schema.cql left out). */
export async function snapshotFiles(host: string, tag: string): Promise<Map<string, number>> {
  const out = await onNode(host, `cd /var/lib/cassandra/data && find . -path "./*/*/snapshots/${tag}/*" -type f -printf '%s %P\\n'`);
  const files = new Map<string, number>();
  for (const line of out.trim().split('\n').filter(Boolean)) {
    const [size, path] = [Number(line.slice(0, line.indexOf(' '))), line.slice(line.indexOf(' ') + 1)];
    const parts = path.split('/');
    const inner = parts.slice(4);
    if (parts[0] === 'system_traces' || (inner.length === 1 && ['manifest.json', 'schema.cql'].includes(inner[0]))) continue;
    files.set([parts[0], parts[1], ...inner].join('/'), size);
  }
  return files;
}

/** The sandbox's three Cassandra hosts, in token order. */
export const NODES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

/** Snapshot directories named `tag` still present on any sandbox node (empty: none left behind). */
export async function snapshotsLeft(tag: string): Promise<string[]> {
  const found = await Promise.all(NODES.map(async (n) => (await onNode(n, `find /var/lib/cassandra/data -type d -path "*/snapshots/${tag}"`)).trim()));
  return found.filter(Boolean);
}
