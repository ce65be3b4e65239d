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

/** Opens `path` for writing (created, truncated); the handle is for {@link sftpWriteFrom}, then {@link sftpClose}. */
export function sftpOpenWrite(sftp: SFTPWrapper, path: string, host: string): Promise<Buffer> {
  return call<Buffer>('open', path, host, (cb) => sftp.open(path, 'w', cb));
}

export function sftpClose(sftp: SFTPWrapper, handle: Buffer, path: string, host: string): Promise<void> {
  return call<void>('close', path, host, (cb) => sftp.close(handle, (err) => cb(err, undefined)));
}

/** fsync@openssh.com on an open handle; a server without the extension is left alone (the rename still makes the write atomic for readers). */
export async function sftpFsync(sftp: SFTPWrapper, handle: Buffer, path: string, host: string): Promise<void> {
  try {
    await call<void>('fsync', path, host, (cb) => sftp.ext_openssh_fsync(handle, (err) => cb(err, undefined)));
  } catch (err) {
    if (/does not support/.test((err as Error).message)) return;
    throw err;
  }
}

/** Writes requests in flight at once: enough to keep a link busy without holding much in memory. */
const WRITES_IN_FLIGHT = 8;

/**
 * Writes everything `source` yields to an open handle, at increasing offsets, with a few write
 * requests in flight (ssh2 splits chunks above the server's packet size). Reading waits while
 * the window is full, so a fast source never outruns the link. Resolves with the bytes written.
 */
export async function sftpWriteFrom(sftp: SFTPWrapper, handle: Buffer, source: Readable, path: string, host: string): Promise<number> {
  let pos = 0;
  let failed: Error | undefined;
  const inflight = new Set<Promise<void>>();
  for await (const chunk of source) {
    if (failed) throw failed;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    if (buf.length === 0) continue;
    const at = pos;
    pos += buf.length;
    const p: Promise<void> = call<void>('write', path, host, (cb) => sftp.write(handle, buf, 0, buf.length, at, (err) => cb(err, undefined)))
      .catch((err: Error) => { failed ??= err; })
      .finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= WRITES_IN_FLIGHT) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (failed) throw failed;
  return pos;
}

/** statvfs@openssh.com: bytes available to unprivileged writers (f_bavail × f_frsize); ENOENT for a missing path. */
export async function sftpFreeBytes(sftp: SFTPWrapper, path: string, host: string): Promise<number> {
  const st = await call<{ f_frsize: number | bigint; f_bavail: number | bigint }>('statvfs', path, host, (cb) => sftp.ext_openssh_statvfs(path, cb));
  return Number(st.f_bavail) * Number(st.f_frsize);
}
