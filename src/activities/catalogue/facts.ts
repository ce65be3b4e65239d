/**
 * The catalogue as the deletion steps need it: every node backup with its start and finish, and the
 * leftovers of interrupted deletions recognised: an unfinished backup with the `meta/deleting`
 * marker (delete-node-backups.ts), or one with nothing but its `tokenmap_` index entry and no
 * meta/schema.cql (a running backup always has its schema.cql before its first index entry).
 */
import { ApplicationFailure } from '@temporalio/common';
import { CatalogueError, ClusterBackup, mapLimit, NodeBackup, readCatalogue } from '../../catalogue/catalogue';
import type { NodeBackupFacts } from '../../catalogue/purge-plan';
import { Storage } from '../../storage/storage';
import { deletingMarker } from './delete-node-backups';

export interface Fact extends NodeBackupFacts {
  node: NodeBackup;
}

/** A catalogue problem (corrupt or missing object) as a failure no retry can fix: one line naming it. */
export function catalogueFailure(err: unknown): unknown {
  if (err instanceof CatalogueError) return ApplicationFailure.nonRetryable(err.message, 'CatalogueError');
  return err;
}

export async function readFacts(storage: Storage, prefix: string): Promise<{ catalogue: ClusterBackup[]; facts: Fact[] }> {
  const catalogue = await readCatalogue(storage, prefix);
  const nodes = catalogue.flatMap((c) => c.nodes);
  const facts = await mapLimit(nodes, 32, async (node): Promise<Fact> => {
    const onlyTokenmap = node.indexEntries.every((e) => e.kind === 'tokenmap');
    try {
      const [started, finished] = [await node.started(), await node.finished()];
      // Being deleted (an interrupted purge or delete-backup): the marker says so.
      const leftover = finished === null && (await storage.head(deletingMarker(node.layout, node.name))) !== undefined;
      return { name: node.name, fqdn: node.fqdn, started, finished, node, ...(leftover ? { leftover } : {}) };
    } catch (err) {
      if (onlyTokenmap && err instanceof CatalogueError) return { name: node.name, fqdn: node.fqdn, finished: null, leftover: true, node };
      throw err;
    }
  });
  return { catalogue, facts };
}

/**
 * Every object path the manifests of these node backups name. Refuses (one line naming it) when a
 * finished backup's manifest is missing or corrupt: deciding what is unreferenced without it could
 * delete what it needs.
 */
export async function referencedPaths(nodes: Fact[]): Promise<Set<string>> {
  const out = new Set<string>();
  const manifests = await mapLimit(nodes, 32, async (f) => {
    const m = await f.node.manifest();
    if (!m && f.finished !== null) throw new CatalogueError(`backup ${f.name} of ${f.fqdn} is finished but its manifest (${f.node.layout.meta(f.name, 'manifest.json')}) is missing`);
    return m ?? [];
  });
  for (const m of manifests) for (const s of m) for (const o of s.objects) out.add(o.path);
  return out;
}
