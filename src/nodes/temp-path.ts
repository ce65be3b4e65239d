/** Names for the temporary files behind atomic writes, shared by both adapters. */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';

/**
 * A hidden sibling of `path` (same directory, hence same file system, so a rename onto `path` is
 * atomic): `dir/.name.<random>.tmp`. Readers of `path` see the old file or the whole new one.
 */
export function tempSiblingPath(path: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}
