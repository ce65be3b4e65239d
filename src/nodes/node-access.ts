/**
 * The NodeAccess port: what backup activities need from a Cassandra node — run a command
 * (nodetool, find, md5sum), read files as streams, write small work files, and — for downloads and
 * restores — write large files from a stream and tell the free space. Two adapters with one
 * behaviour: over SSH (the central worker, agentless like Medusa's pssh) and local (a worker
 * running on the node itself, polling that node's task queue).
 */
import { Readable } from 'node:stream';

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when killed by a signal. */
  code: number | null;
  /** The killing signal (`SIGTERM`, …) when `code` is null. */
  signal?: string;
}

export interface FileStat {
  size: number;
  /** Modification time in whole seconds (as ms): SFTP v3 reports seconds only, so both adapters truncate. */
  mtimeMs: number;
}

export interface NodeAccess {
  /** The node's name (fqdn or address), for messages. */
  readonly node: string;
  /**
   * Whether the node's paths are paths of this machine (a worker or node-side step on the node itself), so that
   * storage can read a file by range where it sends parts; over SSH they are read as streams.
   */
  readonly filesAreLocal: boolean;
  /**
   * Runs a command through `sh -c` on the node (stdin is /dev/null); never throws for a non-zero
   * exit. An abort kills the command's process group and rejects at once with an `AbortError`.
   */
  exec(command: string, options?: { signal?: AbortSignal }): Promise<CommandResult>;
  /** Opens a file for streaming (from `start`, for resumed transfers); a missing file rejects with code ENOENT. */
  createReadStream(path: string, options?: { start?: number }): Promise<Readable>;
  stat(path: string): Promise<FileStat | undefined>;
  readFile(path: string): Promise<Buffer>;
  /**
   * Writes a small file (work files in the node's temp dir), creating parent directories. Atomic:
   * written to a hidden temp sibling and renamed over `path`, so readers never see half a file.
   */
  writeFile(path: string, data: Buffer | string): Promise<void>;
  /**
   * Writes a large file from a stream, creating parent directories. Atomic like writeFile: the
   * bytes go to a hidden temp sibling (`.name.<random>.tmp`) that is renamed over `path` only once
   * the source has ended without error, so a failing or aborted source (or a crash of the process)
   * never leaves a partial file at `path`. Not flushed to disk file by file: the caller flushes the
   * destination once (`sync -f`) before it trusts the files to outlive a crash of the machine. On
   * failure or abort the temp file is removed and the source destroyed; an abort rejects with an
   * `AbortError`. Resolves with the number of bytes written.
   */
  writeStream(path: string, source: Readable, options?: { signal?: AbortSignal }): Promise<number>;
  /**
   * Bytes available to an unprivileged writer on the file system holding `path` (`df`'s
   * "Available", statvfs f_bavail × f_frsize); a missing path rejects with code ENOENT.
   */
  freeBytes(path: string): Promise<number>;
  close(): Promise<void>;
}

/** Quotes a string for `sh -c`. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
