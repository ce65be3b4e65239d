/** Commands run on a Cassandra node: nodetool with Medusa's [cassandra] options, cassandra.yaml, snapshot listing. */
import { CassandraConfig } from '../../config/medusa-config';
import { CassandraYaml, parseCassandraYaml } from '../../cassandra/cassandra-yaml';
import { CommandResult, NodeAccess, shellQuote } from '../../nodes/node-access';
import { parseSnapshotFind, SnapshotListing } from '../../plan/snapshot-files';

/** nodetool failed on the node; the message carries the node's own error text. */
export class NodetoolError extends Error {
  override name = 'NodetoolError';
}

function nodetoolCommand(c: CassandraConfig, sudo: boolean, args: string[]): string {
  const parts = [c.nodetoolExecutable, c.nodetoolFlags];
  if (c.nodetoolSsl) parts.push('--ssl');
  if (c.nodetoolUsername) parts.push('-u', shellQuote(c.nodetoolUsername));
  if (c.nodetoolPasswordFilePath) parts.push('-pwf', shellQuote(c.nodetoolPasswordFilePath));
  else if (c.nodetoolPassword) parts.push('-pw', shellQuote(c.nodetoolPassword));
  if (c.nodetoolHost) parts.push('-h', shellQuote(c.nodetoolHost));
  if (c.nodetoolPort) parts.push('-p', String(c.nodetoolPort));
  return `${sudo ? 'sudo -n ' : ''}${parts.filter(Boolean).join(' ')} ${args.map(shellQuote).join(' ')}`;
}

export async function nodetool(node: NodeAccess, c: CassandraConfig, sudo: boolean, args: string[], signal?: AbortSignal): Promise<CommandResult> {
  const r = await node.exec(nodetoolCommand(c, sudo, args), { signal });
  if (r.code !== 0) {
    const text = (r.stderr.trim() || r.stdout.trim() || `exit status ${r.code}`).split('\n').filter((l) => !/^WARN|^\s*at /.test(l)).slice(0, 3).join(' | ');
    throw new NodetoolError(`nodetool ${args[0]} failed (exit ${r.code}): ${text}`);
  }
  return r;
}

export async function readCassandraYaml(node: NodeAccess, file: string): Promise<CassandraYaml> {
  return parseCassandraYaml((await node.readFile(file)).toString('utf8'), `${node.node}:${file}`);
}

/** Every file of the snapshot `tag` (empty when there is no such snapshot). */
export async function listSnapshot(node: NodeAccess, dataDir: string, tag: string): Promise<SnapshotListing> {
  const dirs = `${shellQuote(dataDir)}/*/*/snapshots/${shellQuote(tag)}`;
  // The glob stays literal when nothing matches; then there is no snapshot, not an error.
  const r = await node.exec(`for d in ${dirs}; do [ -d "$d" ] && find "$d" -type f -printf '%s\\t%p\\n'; done; true`);
  if (r.code !== 0) throw new Error(`listing snapshot ${tag} failed: ${r.stderr.trim()}`);
  return parseSnapshotFind(r.stdout, dataDir, tag);
}

/**
 * The MD5 of each `partSize` part of a file on the node (hex), for comparing with a multipart ETag: one read of the
 * file, and nothing crosses the wire but digests.
 */
export async function partMd5sOnNode(node: NodeAccess, path: string, partSize: number): Promise<string[]> {
  const parts = await node.exec(`split -b ${partSize} --filter='md5sum' ${shellQuote(path)}`);
  if (parts.code !== 0) throw new Error(`split/md5sum ${path} failed: ${parts.stderr.trim()}`);
  return parts.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]);
}

/** Plain MD5 (hex) of many files on the node in one command. */
export async function md5ManyOnNode(node: NodeAccess, paths: string[]): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  if (paths.length === 0) return sums;
  const r = await node.exec(`md5sum ${paths.map(shellQuote).join(' ')}`);
  if (r.code !== 0) throw new Error(`md5sum failed on ${node.node}: ${r.stderr.trim().split('\n')[0]}`);
  for (const line of r.stdout.split('\n')) {
    const m = /^([0-9a-f]{32}) [ *](.*)$/.exec(line);
    if (m) sums.set(m[2], m[1]);
  }
  return sums;
}
