/**
 * meta/manifest.json (reference/medusa.md §2.1): one section per table snapshot directory, each
 * object `{"path": <full key incl. prefix>, "MD5": <provider hash or null>, "size": <bytes>}`,
 * written as Python's json.dumps writes it. Pure code.
 */
import { pyJsonDumps } from './python-json';
import { SnapshotTable } from './snapshot-files';

export interface ManifestObject {
  path: string;
  MD5: string | null;
  size: number;
}

export interface ManifestSection {
  keyspace: string;
  columnfamily: string;
  objects: ManifestObject[];
}

/** Sections for every table, objects grouped under their table and sorted by path. */
export function buildManifest(tables: SnapshotTable[], objects: (ManifestObject & { keyspace: string; tableDir: string })[]): ManifestSection[] {
  const sections = new Map<string, ManifestSection>();
  for (const t of tables) sections.set(`${t.keyspace}/${t.tableDir}`, { keyspace: t.keyspace, columnfamily: t.tableDir, objects: [] });
  for (const o of objects) {
    const section = sections.get(`${o.keyspace}/${o.tableDir}`);
    if (!section) throw new Error(`object ${o.path} belongs to no table of the snapshot`);
    section.objects.push({ path: o.path, MD5: o.MD5, size: o.size });
  }
  for (const s of sections.values()) s.objects.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return [...sections.values()];
}

export function serializeManifest(sections: ManifestSection[]): string {
  return pyJsonDumps(sections.map((s) => ({
    keyspace: s.keyspace, columnfamily: s.columnfamily,
    objects: s.objects.map((o) => ({ path: o.path, MD5: o.MD5, size: o.size })),
  })));
}

export function parseManifest(text: string): ManifestSection[] {
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed)) throw new Error('manifest is not a JSON array');
  return parsed.map((s: Partial<ManifestSection>, i) => {
    if (typeof s?.keyspace !== 'string' || typeof s.columnfamily !== 'string' || !Array.isArray(s.objects)) {
      throw new Error(`manifest section ${i} lacks keyspace, columnfamily or objects`);
    }
    return { keyspace: s.keyspace, columnfamily: s.columnfamily, objects: s.objects.map((o) => ({ path: String(o.path), MD5: o.MD5 ?? null, size: Number(o.size) })) };
  });
}
