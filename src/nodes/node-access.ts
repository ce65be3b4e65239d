/**
 * The NodeAccess port: what backup activities need from a Cassandra node — run a command
 * (nodetool, find, md5sum), read files as streams, write small work files. Two adapters with one
 * behaviour: over SSH (the central worker, agentless like Medusa's pssh) and local (a worker
 * running on the node itself, polling that node's task queue).
 */
import { Readable } from 'node:stream';

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when killed by a signal. */
  code: number | null;
}

export interface FileStat {
  size: number;
  mtimeMs: number;
}

export interface NodeAccess {
  /** The node's name (fqdn or address), for messages. */
  readonly node: string;
  /** Runs a command through `sh -c` on the node; never throws for a non-zero exit. */
  exec(command: string, options?: { signal?: AbortSignal }): Promise<CommandResult>;
  /** Opens a file for streaming (from `start`, for resumed transfers). */
  createReadStream(path: string, options?: { start?: number }): Promise<Readable>;
  stat(path: string): Promise<FileStat | undefined>;
  readFile(path: string): Promise<Buffer>;
  /** Writes a small file (work files in the node's temp dir), creating parent directories. */
  writeFile(path: string, data: Buffer | string): Promise<void>;
  close(): Promise<void>;
}

/** Quotes a string for `sh -c`. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
