/**
 * Hashing a file of this machine in one read: the MD5 of each part of a multipart layout, as S3 computed them for
 * the ETag `<md5 of the part md5s>-<n>`. Used where the node's files are local (on the node itself), instead of
 * piping the file through `split --filter=md5sum`, which copies every byte through a pipe and starts a process per part.
 */
import { createHash, Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

const READ = 1024 * 1024;

/** Hex MD5 of every `partSize` bytes of the file at `path` (the last part shorter; none for an empty file). */
export async function partMd5sOfFile(path: string, partSize: number, signal?: AbortSignal): Promise<string[]> {
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(READ);
  const parts: string[] = [];
  let part: Hash | undefined;
  let inPart = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      // Never read across a part boundary, so each read goes into one part's hash.
      const { bytesRead } = await fh.read(buf, 0, Math.min(READ, partSize - inPart), null);
      if (bytesRead === 0) break;
      part ??= createHash('md5');
      part.update(buf.subarray(0, bytesRead));
      inPart += bytesRead;
      if (inPart === partSize) {
        parts.push(part.digest('hex'));
        part = undefined;
        inPart = 0;
      }
    }
    if (part) parts.push(part.digest('hex'));
    return parts;
  } finally {
    await fh.close();
  }
}
