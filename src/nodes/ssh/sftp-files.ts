/**
 * Promise wrappers over ssh2's SFTP client for the NodeAccess file operations, with SFTP status
 * codes translated to the `code` strings of Node's fs errors (ENOENT, EACCES), so callers handle
 * a missing file the same way whichever adapter they hold.
 */
import { Readable } from 'node:stream';
import { SFTPWrapper, Stats } from 'ssh2';
import { SshConnectError } from './errors';

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02) that have an fs equivalent. */
const FS_CODES: Record<number, string> = { 2: 'ENOENT', 3: 'EACCES', 8: 'ENOTSUP' };

/** An fs-like error: `code` is ENOENT/EACCES/… when known, `sftpStatus` the raw status. */
export type SftpFileError = Error & { code?: string; sftpStatus?: number; path: string };

/**
 * Translates an ssh2 SFTP error. "No response from server" is what ssh2 gives every pending
 * request when the channel or connection goes away: that is a connection error, retryable.
 */
export function sftpError(err: unknown, op: string, path: string, host: string): Error {
  const e = err as Error & { code?: unknown };
  if (e.message === 'No response from server') return new SshConnectError(`ssh ${host}: ${op} ${path}: SFTP session lost`, host);
  const out = new Error(`${host}: ${op} ${path}: ${e.message}`, { cause: err }) as SftpFileError;
  out.path = path;
  if (typeof e.code === 'number') {
    out.sftpStatus = e.code;
    if (FS_CODES[e.code]) out.code = FS_CODES[e.code];
  }
  return out;
}

function call<T>(op: string, path: string, host: string, fn: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    try {
      fn((err, v) => (err ? reject(sftpError(err, op, path, host)) : resolve(v)));
    } catch (err) {
      reject(sftpError(err, op, path, host));
    }
  });
}

/** stat(2) through SFTP (follows symlinks); undefined when the path does not exist. */
export async function sftpStat(sftp: SFTPWrapper, path: string, host: string): Promise<Stats | undefined> {
  try {
    return await call<Stats>('stat', path, host, (cb) => sftp.stat(path, cb));
  } catch (err) {
    if ((err as SftpFileError).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function sftpReadFile(sftp: SFTPWrapper, path: string, host: string): Promise<Buffer> {
  return call<Buffer>('read', path, host, (cb) => sftp.readFile(path, cb));
}

/**
 * Opens the file first, so a missing file rejects here rather than as a later stream error,
 * then streams it from `start`. The stream closes the SFTP handle at its end or on destroy.
 */
export async function sftpOpenRead(sftp: SFTPWrapper, path: string, host: string, start?: number): Promise<Readable> {
  const handle = await call<Buffer>('open', path, host, (cb) => sftp.open(path, 'r', cb));
  const stream = sftp.createReadStream(path, { handle, start });
  // ssh2 emits raw SFTP errors on the stream; give readers the same translated errors.
  const translated = new Readable({ read: () => stream.resume() });
  stream.on('data', (chunk: Buffer) => {
    if (!translated.push(chunk)) stream.pause();
  });
  stream.on('end', () => translated.push(null));
  stream.on('error', (err: Error) => translated.destroy(sftpError(err, 'read', path, host)));
  translated.on('close', () => {
    if (!stream.destroyed) stream.destroy();
  });
  return translated;
}

export function sftpWrite(sftp: SFTPWrapper, path: string, data: Buffer, host: string): Promise<void> {
  return call<void>('write', path, host, (cb) => sftp.writeFile(path, data, (err) => cb(err, undefined)));
}

export function sftpUnlink(sftp: SFTPWrapper, path: string, host: string): Promise<void> {
  return call<void>('unlink', path, host, (cb) => sftp.unlink(path, (err) => cb(err, undefined)));
}

/**
 * Renames over an existing file. Plain SFTP v3 RENAME refuses an existing target (OpenSSH
 * implements it with link(2)), so this uses OpenSSH's posix-rename@openssh.com extension;
 * ssh2 throws synchronously when the server lacks it ("Server does not support this extended
 * request"), which rejects here like any other failure.
 */
export function sftpPosixRename(sftp: SFTPWrapper, from: string, to: string, host: string): Promise<void> {
  return call<void>('rename', from, host, (cb) => sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined)));
}
