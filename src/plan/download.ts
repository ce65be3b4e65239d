/**
 * What `medusa download` fetches and where each file goes (reference/medusa.md §5, Medusa's
 * download.py and filtering.py): the manifest objects of the selected tables, each to
 * `<dest>/<keyspace>/<columnfamily>[/.<index>]/<file>`. Pure code.
 *
 * The manifest is data from the bucket, so nothing in it is trusted to name a place on the node:
 * keyspace, table directory, index directory and file name must each be one plain path component,
 * and the object key must end in exactly those components. Medusa takes the file name and the
 * `.`-prefixed parent from the key as they are, so a key ending in `/../x` would be written to
 * `<dest>/<ks>/<table>/../x`; here it is refused before anything is written.
 */
import { posix } from 'node:path';
import { ManifestSection } from './manifest';

/** Kept by a filtered download unless ignored (Medusa's `keep_or_system_namespace`); system_traces is never backed up. */
export const SYSTEM_KEYSPACES = ['system', 'system_schema', 'system_auth', 'system_distributed'];

export interface DownloadFilter {
  /** `--keyspace`: whole keyspaces. */
  keyspaces?: string[];
  /** `--table ks.t`: tables, named without the table id. */
  tables?: string[];
  /** `--ignore-system-keyspaces`. */
  ignoreSystemKeyspaces?: boolean;
}

/** A manifest path or destination that would write outside the destination directory. Never retried. */
export class UnsafePathError extends Error {
  override name = 'UnsafePath';
}

export interface DownloadItem {
  /** The object key, verbatim from the manifest (full key, prefix included). */
  key: string;
  /** Where it goes below the destination: `<ks>/<table_dir>[/.<index>]/<file>`. */
  rel: string;
  size: number;
  /** Lowercase hex MD5 to check while downloading, when the manifest's hash is one (null: size only). */
  md5: string | null;
}

export interface DownloadSelection {
  items: DownloadItem[];
  /** The selected tables, `<ks>.<table_dir>`, in manifest order. */
  tables: string[];
}

const KEYSPACE = /^\w+$/;
const TABLE_DIR = /^\w[\w-]*$/;
const INDEX_DIR = /^\.[\w-][\w.-]*$/;
const FILE_NAME = /^\w[\w.-]*$/;

/** The table name without its id: Medusa splits the directory name at the first `-` (CQL names have none). */
export function tableName(columnfamily: string): string {
  return columnfamily.split('-')[0];
}

/**
 * Medusa's selection: with no --keyspace and no --table, every table; otherwise the named
 * keyspaces and tables, plus the system keyspaces unless ignored. Unlike Medusa,
 * --ignore-system-keyspaces also applies without filters (Medusa then keeps everything).
 */
export function tableSelected(keyspace: string, columnfamily: string, f: DownloadFilter): boolean {
  const system = SYSTEM_KEYSPACES.includes(keyspace);
  if (system && f.ignoreSystemKeyspaces) return false;
  const keyspaces = f.keyspaces ?? [];
  const tables = f.tables ?? [];
  if (keyspaces.length === 0 && tables.length === 0) return true;
  return keyspaces.includes(keyspace) || system || tables.includes(`${keyspace}.${tableName(columnfamily)}`);
}

/** A hash usable as an MD5 of the whole content: plain hex (S3 single-part ETag, local) or base64 of 16 bytes (GCS, Azure). Multipart ETags are not. */
export function usableMd5(hash: string | null): string | null {
  if (!hash) return null;
  if (/^[0-9a-f]{32}$/i.test(hash)) return hash.toLowerCase();
  if (/^[A-Za-z0-9+/]{22}==$/.test(hash)) return Buffer.from(hash, 'base64').toString('hex');
  return null;
}

/** Where a manifest object goes below the destination; UnsafePathError when its key or names could escape it. */
export function destinationRel(keyspace: string, columnfamily: string, key: string): string {
  if (!KEYSPACE.test(keyspace)) throw new UnsafePathError(`manifest keyspace ${JSON.stringify(keyspace)} is not a plain directory name`);
  if (!TABLE_DIR.test(columnfamily)) throw new UnsafePathError(`manifest table ${JSON.stringify(`${keyspace}.${columnfamily}`)} is not a plain directory name`);
  const parts = key.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
    throw new UnsafePathError(`manifest path ${JSON.stringify(key)} has an empty, "." or ".." component: refused, it could write outside the download destination`);
  }
  const file = parts[parts.length - 1];
  const index = parts.length >= 4 && parts[parts.length - 2].startsWith('.') ? parts[parts.length - 2] : undefined;
  const table = parts.slice(parts.length - (index ? 4 : 3), parts.length - (index ? 2 : 1));
  if (table.length !== 2 || table[0] !== keyspace || table[1] !== columnfamily) {
    throw new UnsafePathError(`manifest path ${JSON.stringify(key)} does not lie under ${keyspace}/${columnfamily}/ of its section`);
  }
  if (index !== undefined && !INDEX_DIR.test(index)) throw new UnsafePathError(`manifest path ${JSON.stringify(key)} has an unsafe index directory ${JSON.stringify(index)}`);
  if (!FILE_NAME.test(file)) throw new UnsafePathError(`manifest path ${JSON.stringify(key)} has an unsafe file name ${JSON.stringify(file)}`);
  return [keyspace, columnfamily, ...(index ? [index] : []), file].join('/');
}

/** The objects to download, every one checked; `md5` only when `trustHashes` (an SSE-KMS or SSE-C ETag is no MD5). */
export function selectDownload(manifest: ManifestSection[], filter: DownloadFilter, trustHashes = true): DownloadSelection {
  const items: DownloadItem[] = [];
  const tables: string[] = [];
  const seen = new Map<string, string>();
  for (const s of manifest) {
    if (!tableSelected(s.keyspace, s.columnfamily, filter)) continue;
    tables.push(`${s.keyspace}.${s.columnfamily}`);
    for (const o of s.objects) {
      const rel = destinationRel(s.keyspace, s.columnfamily, o.path);
      const other = seen.get(rel);
      if (other !== undefined) throw new UnsafePathError(`manifest paths ${JSON.stringify(other)} and ${JSON.stringify(o.path)} would both be written to ${rel}`);
      seen.set(rel, o.path);
      if (!Number.isSafeInteger(o.size) || o.size < 0) throw new UnsafePathError(`manifest object ${JSON.stringify(o.path)} has no valid size`);
      items.push({ key: o.path, rel, size: o.size, md5: trustHashes ? usableMd5(o.MD5) : null });
    }
  }
  return { items, tables };
}

/** The destination, normalised; refused unless absolute and free of `..` (it is a path on the node, not on this machine). */
export function checkDestination(destination: string): string {
  if (!posix.isAbsolute(destination)) throw new UnsafePathError(`the download destination ${JSON.stringify(destination)} must be an absolute path on the node`);
  if (destination.split('/').includes('..')) throw new UnsafePathError(`the download destination ${JSON.stringify(destination)} must not contain ".."`);
  const normal = posix.normalize(destination).replace(/\/+$/, '');
  if (normal === '') throw new UnsafePathError('refusing to download into /');
  return normal;
}

/**
 * Refuses a download whose files would pass through a symbolic link inside the destination
 * (`links`: paths of the symlinks found below it, relative to it), which could point anywhere.
 */
export function checkNoSymlinks(rels: string[], links: string[]): void {
  if (links.length === 0) return;
  const set = new Set(links);
  for (const rel of rels) {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (set.has(p)) throw new UnsafePathError(`${p} in the download destination is a symbolic link: refused, ${rel} would be written through it`);
    }
  }
}
