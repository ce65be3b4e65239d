/**
 * File-system helpers of the local adapter: mapping keys to paths, atomic writes and the recursive
 * walk behind `list`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { replaceAtomically } from '../shared/atomic-file';

/** Temporary files start with this, so `list` can skip writes in progress (and leftovers of crashes). */
export const TEMP_PREFIX = '.tmp-';

/** The path of `key` under `root`. Keys that could escape the bucket directory, or name a temp file, are refused. */
export function keyPath(root: string, key: string): string {
  const parts = key.split('/');
  const bad = parts.some((p) => p === '' || p === '.' || p === '..') || parts[parts.length - 1].startsWith(TEMP_PREFIX);
  if (bad) throw new Error(`invalid object key for local storage: ${JSON.stringify(key)}`);
  return join(root, ...parts);
}

/** What {@link writeAtomically} wrote. */
export interface Written {
  size: number;
  /** Lowercase hex MD5 of what was written. */
  md5: string;
}

/**
 * Writes `source` (exactly `expectedSize` bytes) to a temporary sibling of `path`, flushes it to
 * disk and renames it into place, so `path` is either absent (or its previous version) or complete.
 * On any failure, abort or size mismatch included, the temporary file is removed and the error rethrown.
 */
export async function writeAtomically(
  path: string, source: Readable, expectedSize: number, signal?: AbortSignal, onProgress?: (bytes: number) => void,
): Promise<Written> {
  // Random part first so that a long object name cannot push it past the 255-byte name limit.
  const tmp = join(dirname(path), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${basename(path)}`.slice(0, 255));
  return replaceAtomically(path, tmp, async () => {
    const hash = createHash('md5');
    let size = 0;
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Buffer | string>) {
        for await (const chunk of chunks) {
          const piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
          hash.update(piece);
          size += piece.length;
          yield piece;
          onProgress?.(size);
        }
      },
      createWriteStream(tmp, { flags: 'wx' }),
      ...(signal ? [{ signal }] : []),
    );
    if (size !== expectedSize) throw new Error(`write of ${path}: the stream had ${size} bytes, not the declared ${expectedSize}`);
    return { size, md5: hash.digest('hex') };
  });
}

/** An object found by {@link walk}: its key and file status. */
export interface FoundFile {
  key: string;
  size: number;
  /** Modification time in ms; a number because fs's Date objects come from Node's realm, not the caller's. */
  mtimeMs: number;
}

/**
 * Every file under `root` whose key starts with `prefix`, skipping temporary files. Only the
 * directory named by the prefix up to its last `/` is read, then everything below it whose first
 * name matches the rest of the prefix (a prefix is not a directory boundary: `a/b` matches `a/bc/d`).
 */
export async function* walk(root: string, prefix: string): AsyncGenerator<FoundFile> {
  const cut = prefix.lastIndexOf('/') + 1;
  const dirKey = prefix.slice(0, cut);
  const partial = prefix.slice(cut);
  let dir: string;
  try {
    dir = dirKey === '' ? root : keyPath(root, dirKey.slice(0, -1));
  } catch {
    return; // a prefix no valid key can have
  }
  yield* walkDir(dir, dirKey, (name) => name.startsWith(partial));
}

async function* walkDir(dir: string, keyPrefix: string, accept: (name: string) => boolean): AsyncGenerator<FoundFile> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isGone(err)) return;
    throw err;
  }
  for (const e of entries) {
    if (!accept(e.name) || e.name.startsWith(TEMP_PREFIX)) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      yield* walkDir(path, `${keyPrefix}${e.name}/`, () => true);
    } else if (e.isFile()) {
      // The file may be deleted between the listing and the stat: then it is simply not there.
      const st = await stat(path).catch((err: unknown) => (isGone(err) ? undefined : Promise.reject(err)));
      if (st) yield { key: `${keyPrefix}${e.name}`, size: st.size, mtimeMs: st.mtimeMs };
    }
  }
}

/** The error of a path that does not exist (or whose parent is a file). */
export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
