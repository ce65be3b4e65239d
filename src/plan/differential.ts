/**
 * What to send: in full mode every file, under the backup's own folder; in differential mode a file
 * already in the node's pool with the same size (and, with md5 checks, the same hash) is kept, and
 * its existing object goes into the manifest. Pure code.
 */
import { BackupMode, Layout } from './layout';
import { SnapshotFile } from './snapshot-files';

export interface StoredObject {
  size: number;
  hash: string | null;
  /** Last-modified time (epoch ms) when planned: tells a stale object from one a retry already replaced. */
  lastModified?: number;
}

/** Whether an object seen in storage is still the one seen at planning time (same hash, or same time where no hash is known). */
export function sameStoredObject(now: StoredObject, planned: StoredObject): boolean {
  if (now.size !== planned.size) return false;
  if (now.hash && planned.hash) return now.hash === planned.hash;
  return now.lastModified === planned.lastModified;
}

export type PlanAction = 'upload' | 'keep' | 'check';

export interface PlannedFile extends SnapshotFile {
  key: string;
  /** upload; keep (pool object reused); check (same size, hash to compare on the node first). */
  action: PlanAction;
  existing?: StoredObject;
}

export function planFiles(files: SnapshotFile[], layout: Layout, mode: BackupMode, name: string,
  pool: Map<string, StoredObject>, md5Checks: boolean): PlannedFile[] {
  return files.map((f) => {
    const key = layout.dataKey(mode, name, f.rel);
    if (mode === 'full') return { ...f, key, action: 'upload' };
    const existing = pool.get(key);
    if (!existing || existing.size !== f.size) return { ...f, key, action: 'upload' };
    // Without a stored hash (local storage) only the size can be compared, as in Medusa.
    return { ...f, key, action: md5Checks && existing.hash ? 'check' : 'keep', existing };
  });
}

/** Hash verdicts an attempt of planning reached, by file path on the node: the file's size, the stored hash it was compared with, and what was decided. */
export type HashVerdicts = Record<string, { size: number; stored: string; action: 'keep' | 'upload' }>;

/**
 * The verdict an earlier attempt reached for a file still to be hashed, when it holds: same path and size (snapshot
 * files are immutable hard links, so that is the same file), and the attempt compared against the same stored object.
 */
export function earlierVerdict(earlier: HashVerdicts, f: Pick<PlannedFile, 'path' | 'size' | 'existing'>): 'keep' | 'upload' | undefined {
  const v = Object.prototype.hasOwnProperty.call(earlier, f.path) ? earlier[f.path] : undefined;
  if (!v || v.size !== f.size || v.stored !== f.existing?.hash || (v.action !== 'keep' && v.action !== 'upload')) return undefined;
  return v.action;
}

/** True when the hash a provider reports is a multipart ETag (`<hex>-<parts>`). */
export function isMultipartHash(hash: string): boolean {
  return /^[0-9a-f]{32}-\d+$/i.test(hash);
}

/** Compares a stored hash with the MD5 of the local file (hex, or multipart form for multipart hashes). Accepts base64 or hex, as Medusa does. */
export function hashesMatch(stored: string, localHex: string, localMultipart?: string): boolean {
  if (isMultipartHash(stored)) return localMultipart !== undefined && stored.toLowerCase() === localMultipart.toLowerCase();
  if (stored.toLowerCase() === localHex.toLowerCase()) return true;
  try {
    return Buffer.from(stored, 'base64').toString('hex') === localHex.toLowerCase();
  } catch {
    return false;
  }
}

/** The S3 multipart ETag of a file from its part MD5s (hex): md5(concat(binary part md5s))-<n>. */
export function multipartEtag(partMd5Hex: string[], md5: (b: Buffer) => string): string {
  return `${md5(Buffer.concat(partMd5Hex.map((h) => Buffer.from(h, 'hex'))))}-${partMd5Hex.length}`;
}

/**
 * Whether a planned upload is done already: the object in storage has the file's size and is not the stale object the
 * plan decided to replace (writes are all-or-nothing, so such an object is complete: an earlier attempt sent it).
 */
export function alreadySent(present: StoredObject | undefined, f: Pick<PlannedFile, 'size' | 'existing'>): boolean {
  return present !== undefined && present.size === f.size && !(f.existing && sameStoredObject(present, f.existing));
}

/** The longest prefix of every key that ends at a `/` (empty when they share no folder): one listing covers them all. */
export function commonFolder(keys: string[]): string {
  if (keys.length === 0) return '';
  let prefix = keys[0];
  for (const k of keys) {
    let i = 0;
    while (i < prefix.length && i < k.length && prefix[i] === k[i]) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
}
