/**
 * The one way a file of this machine is made to appear whole or not at all: written under a temporary name in the
 * same directory (same file system, so the rename is atomic), flushed to disk, then renamed over its final path.
 * Local storage (objects) and the local node access (downloaded SSTables) both write through it; each names its
 * temporary files its own way (local storage's listing skips its prefix).
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Runs `fill(tmp)`, which writes the content to `tmp`, then flushes `tmp` and renames it over `path`, creating the
 * parent directories first. On any failure or abort `tmp` is removed and the error rethrown; `path` is untouched.
 * `flush: false` leaves the flush to the caller, who flushes many files at once (a download: one `sync -f` of its
 * destination before it reports done); until then a machine crash may leave `path` shorter than it was written — never
 * longer, nor of its full size with missing data, on ext4 or XFS — which a size check finds.
 */
export async function replaceAtomically<T>(path: string, tmp: string, fill: (tmp: string) => Promise<T>, signal?: AbortSignal, flush = true): Promise<T> {
  try {
    signal?.throwIfAborted();
    await mkdir(dirname(path), { recursive: true });
    const result = await fill(tmp);
    signal?.throwIfAborted();
    // Data on disk before the rename: a crash must not leave a complete-looking empty file.
    if (flush) {
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await rename(tmp, path);
    return result;
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
