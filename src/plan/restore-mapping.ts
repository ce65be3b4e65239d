/**
 * Which node of a backup goes onto which node of the cluster being restored — pure, so it is tested
 * without servers.
 *
 * - **In place**: every node of the backup is in the cluster; each gets its own backup and must own
 *   the same tokens as when it was backed up.
 * - **Other hosts** (token pinning): the cluster has as many nodes as the backup and none of them is
 *   a node of the backup (or a host list says which goes where). Backup and cluster nodes are paired
 *   in token order; each target will be started with its source's tokens (initial_token), so the
 *   data it receives is the data it owns.
 */

export interface MappingHost {
  fqdn: string;
  tokens: bigint[];
  datacenter?: string;
  rack?: string;
}

export interface HostPair {
  seed: boolean;
  target: string;
  source: string;
}

export interface NodeMapping {
  /** The backup node whose files are restored. */
  source: string;
  /** The cluster node they are restored onto. */
  target: string;
  /** The source's tokens, as exact decimal strings, when the target must be pinned to them (another host). */
  pinTokens?: string[];
}

export class MappingError extends Error {
  override name = 'TopologyMismatch';
}

const ordered = (ts: bigint[]) => [...ts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const first = (h: MappingHost) => ordered(h.tokens)[0] ?? 0n;
const byFirstToken = (a: MappingHost, b: MappingHost) => (first(a) < first(b) ? -1 : first(a) > first(b) ? 1 : 0);

/**
 * Pairs the nodes of the backup (`backup`, only those to restore) with the nodes of `cluster`. Throws a
 * MappingError naming every problem: a backup node missing from the cluster in place, tokens that moved, a
 * cluster of another size, a host list naming unknown or repeated hosts.
 */
export function mapRestore(backup: MappingHost[], cluster: MappingHost[], hostList?: HostPair[]): NodeMapping[] {
  const inCluster = new Map(cluster.map((h) => [h.fqdn, h]));
  const inBackup = new Map(backup.map((h) => [h.fqdn, h]));
  const problems: string[] = [];
  let pairs: [MappingHost, MappingHost][] = [];

  if (hostList) {
    const targets = new Set<string>();
    for (const p of hostList) {
      const s = inBackup.get(p.source);
      const t = inCluster.get(p.target);
      if (!s) problems.push(`${p.source} (in the host list) has no backup to restore`);
      if (!t) problems.push(`${p.target} (in the host list) is not in the cluster`);
      if (targets.has(p.target)) problems.push(`${p.target} is the target of more than one node`);
      targets.add(p.target);
      if (s && t) pairs.push([s, t]);
    }
  } else if (backup.every((h) => inCluster.has(h.fqdn))) {
    pairs = backup.map((h) => [h, inCluster.get(h.fqdn)!]);
  } else if (backup.some((h) => inCluster.has(h.fqdn))) {
    const absent = backup.filter((h) => !inCluster.has(h.fqdn)).map((h) => h.fqdn);
    problems.push(`${absent.join(', ')} ${absent.length === 1 ? 'is' : 'are'} not in the cluster (a restore is either in place or onto other hosts, not both)`);
  } else {
    // Pairs are made within each datacenter (same names, same sizes), so that replication settings by
    // datacenter still hold; without datacenter names, across the whole ring.
    const known = [...backup, ...cluster].every((h) => h.datacenter);
    const groups = (hs: MappingHost[]) => {
      const m = new Map<string, MappingHost[]>();
      for (const h of hs) m.set(known ? h.datacenter! : '', [...(m.get(known ? h.datacenter! : '') ?? []), h]);
      return m;
    };
    const describe = (m: Map<string, MappingHost[]>) => [...m].sort(([a], [b]) => a.localeCompare(b)).map(([dc, hs]) => (known ? `${dc}: ${hs.length}` : String(hs.length))).join(', ');
    const b = groups(backup);
    const c = groups(cluster);
    if (describe(b) !== describe(c)) {
      problems.push(`the backup has ${describe(b)} node(s)${known ? ' by datacenter' : ''}, the cluster ${describe(c)}: restoring onto a cluster of another shape is not supported`);
    } else {
      for (const [dc, hs] of b) {
        const targets = [...c.get(dc)!].sort(byFirstToken);
        pairs.push(...[...hs].sort(byFirstToken).map((s, i): [MappingHost, MappingHost] => [s, targets[i]]));
      }
    }
  }

  const mapping: NodeMapping[] = [];
  for (const [s, t] of pairs) {
    if (s.fqdn === t.fqdn) {
      if (ordered(s.tokens).join(',') !== ordered(t.tokens).join(',')) {
        problems.push(`${s.fqdn} owns ${t.tokens.length} token(s) starting ${String(ordered(t.tokens)[0])}, the backup ${s.tokens.length} starting ${String(ordered(s.tokens)[0])}`);
      }
      mapping.push({ source: s.fqdn, target: t.fqdn });
    } else {
      mapping.push({ source: s.fqdn, target: t.fqdn, pinTokens: ordered(s.tokens).map(String) });
    }
  }
  const moved = mapping.filter((m) => m.pinTokens);
  if (moved.length) {
    // Pinned targets take over token ranges: a cluster node left out would still own its old ones, overlapping.
    const targets = new Set(mapping.map((m) => m.target));
    const left = cluster.filter((h) => !targets.has(h.fqdn)).map((h) => h.fqdn);
    if (left.length) problems.push(`onto other hosts every node of the cluster must receive a backup node; ${left.join(', ')} would not`);
    if (moved.length !== mapping.length) problems.push('a restore is either in place or onto other hosts, not both');
  }
  if (problems.length) throw new MappingError(problems.join('; '));
  return mapping.sort((a, b) => byFirstToken(inCluster.get(a.target)!, inCluster.get(b.target)!));
}
