/**
 * The NodeAccess adapter over SSH, for the central worker (agentless, like Medusa's pssh): one
 * ssh2 connection per node, commands on exec channels, files over one lazily opened SFTP session.
 *
 * OpenSSH refuses session channels beyond MaxSessions (10 by default) on a connection with
 * "Channel open failure", so the adapter never has more than `maxChannels` open: each exec holds
 * a permit until its channel is closed (sshd frees the slot only when the command's processes are
 * gone, even after an abort), the SFTP session holds one while it is open, and one permit is kept
 * for the `kill` commands that aborts run, so an abort never waits behind the commands it stops.
 *
 * Errors: a dropped connection, or an operation attempted after it dropped, rejects with
 * {@link SshConnectError} (retryable: open a new NodeAccess); file errors carry fs-like codes
 * (`ENOENT`, `EACCES`); an aborted exec rejects with an error named `AbortError`.
 */
import { posix } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { Client, SFTPWrapper } from 'ssh2';
import { abortError } from './abort-error';
import { CommandResult, FileStat, NodeAccess, shellQuote } from './node-access';
import { Semaphore } from './semaphore';
import { connectSsh, openSftp, SshTarget } from './ssh/connect';
import { SshConnectError } from './ssh/errors';
import { startCommand } from './ssh/exec';
import {
  sftpClose, sftpFreeBytes, sftpFsync, sftpOpenRead, sftpOpenWrite, sftpPosixRename, sftpReadFile, sftpStat, sftpUnlink, sftpWrite, sftpWriteFrom,
} from './ssh/sftp-files';
import { tempSiblingPath } from './temp-path';

export interface SshNodeAccessOptions {
  /**
   * Channels open at once on the connection, SFTP and abort kills included; at least 3.
   * Default 8, below OpenSSH's MaxSessions 10.
   */
  maxChannels?: number;
  /** After an aborted exec: time from SIGTERM to SIGKILL. Default 3000 ms. */
  killGraceMs?: number;
}

/** A command started by {@link SshNodeAccess.converse}. */
export interface Conversation {
  /** Writes to the command's standard input, which stays open until the channel closes. */
  write(data: string | Buffer): void;
  /** Exit status and stderr, as exec's (stdout went to `onStdout`); rejects like exec. */
  result: Promise<CommandResult>;
}

/** NodeAccess over SSH, with the channel accounting visible for tests and diagnostics. */
export interface SshNodeAccess extends NodeAccess {
  /** Permits for commands and SFTP not in use right now (maxChannels − 1 when idle; one is kept for kills). */
  readonly freeChannels: number;
  /**
   * Starts a long-running command that talks over its standard streams: what `write` sends reaches
   * its stdin, which is never closed by us (the command sees its end when the channel or the
   * connection goes, so it can stop when its caller dies), and its stdout reaches `onStdout` as it
   * comes. An abort kills its process group, as for exec.
   */
  converse(command: string, options: { onStdout: (chunk: Buffer) => void; signal?: AbortSignal }): Conversation;
}

/** Connects to `target` (strict host-key checking, see {@link connectSsh}) and returns its NodeAccess. */
export async function openSshNodeAccess(target: SshTarget, options: SshNodeAccessOptions = {}): Promise<SshNodeAccess> {
  const maxChannels = options.maxChannels ?? 8;
  // One permit is kept for kills and the SFTP session holds one for as long as it is open; any
  // fewer than 3 and the first exec after a file operation would wait forever.
  if (!Number.isInteger(maxChannels) || maxChannels < 3) throw new RangeError(`maxChannels must be an integer ≥ 3, got ${maxChannels}`);
  return new SshAccess(target.host, await connectSsh(target), new Semaphore(maxChannels - 1), options.killGraceMs ?? 3000);
}

class SshAccess implements SshNodeAccess {
  readonly filesAreLocal = false;
  private lost: SshConnectError | undefined;
  private closing = false;
  private readonly ended: Promise<void>;
  private sftp: Promise<SFTPWrapper> | undefined;
  private readonly killLane = new Semaphore(1);

  constructor(readonly node: string, private readonly client: Client, private readonly channels: Semaphore, private readonly killGraceMs: number) {
    // connectSsh's own 'error' listener is spent once connected; without a lasting one a reset
    // socket would be an uncaught exception in the worker.
    client.on('error', (err: Error) => {
      this.lost ??= new SshConnectError(`ssh ${node}: connection lost: ${err.message}`, node);
    });
    this.ended = new Promise((resolve) => client.once('close', () => {
      this.lost ??= new SshConnectError(`ssh ${node}: connection ${this.closing ? 'closed' : 'lost'}`, node);
      resolve();
    }));
  }

  get freeChannels(): number {
    return this.channels.free;
  }

  async exec(command: string, options: { signal?: AbortSignal } = {}): Promise<CommandResult> {
    const { signal } = options;
    this.checkOpen();
    const release = await this.channels.acquire(signal);
    if (this.lost) {
      release();
      throw this.lost;
    }
    // The login shell (bash here, anything on other hosts) only starts a POSIX sh, as the port
    // promises; stdin comes from /dev/null as for the local adapter, rather than sending EOF on
    // the channel, because ssh2 ignores signal requests once the channel's write side has ended.
    const wrapped = `exec sh -c ${shellQuote(command)} </dev/null`;
    const started = startCommand(this.client, wrapped, {
      signal, killGraceMs: this.killGraceMs, host: this.node, killGroup: (pgid, sig) => this.killGroup(pgid, sig),
    });
    void started.closed.then(release);
    try {
      return await started.result;
    } catch (err) {
      if (signal?.aborted) throw abortError(signal, `${this.node}: ${command}`);
      throw this.lost ?? err;
    }
  }

  converse(command: string, options: { onStdout: (chunk: Buffer) => void; signal?: AbortSignal }): Conversation {
    const { signal, onStdout } = options;
    let input: ((data: string | Buffer) => void) | undefined;
    const queued: (string | Buffer)[] = [];
    const result = (async () => {
      this.checkOpen();
      const release = await this.channels.acquire(signal);
      if (this.lost) {
        release();
        throw this.lost;
      }
      const started = startCommand(this.client, `exec sh -c ${shellQuote(command)}`, {
        signal, onStdout, killGraceMs: this.killGraceMs, host: this.node, killGroup: (pgid, sig) => this.killGroup(pgid, sig),
      });
      void started.closed.then(release);
      input = started.write;
      for (const data of queued.splice(0)) input(data);
      try {
        return await started.result;
      } catch (err) {
        if (signal?.aborted) throw abortError(signal, `${this.node}: ${command}`);
        throw this.lost ?? err;
      }
    })();
    const write = (data: string | Buffer) => {
      if (input) input(data);
      else queued.push(data);
    };
    return { write, result };
  }

  async createReadStream(path: string, options: { start?: number } = {}): Promise<Readable> {
    return this.sftpOp((sftp) => sftpOpenRead(sftp, path, this.node, options.start));
  }

  async stat(path: string): Promise<FileStat | undefined> {
    const st = await this.sftpOp((sftp) => sftpStat(sftp, path, this.node));
    // SFTP v3 carries whole seconds only.
    return st && { size: st.size, mtimeMs: st.mtime * 1000 };
  }

  async readFile(path: string): Promise<Buffer> {
    return this.sftpOp((sftp) => sftpReadFile(sftp, path, this.node));
  }

  async writeFile(path: string, data: Buffer | string): Promise<void> {
    await this.mkdirs(posix.dirname(path));
    const tmp = tempSiblingPath(path);
    await this.sftpOp(async (sftp) => {
      try {
        await sftpWrite(sftp, tmp, Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'), this.node);
        await sftpPosixRename(sftp, tmp, path, this.node);
      } catch (err) {
        await sftpUnlink(sftp, tmp, this.node).catch(() => undefined);
        throw err;
      }
    });
  }

  async writeStream(path: string, source: Readable, options: { signal?: AbortSignal } = {}): Promise<number> {
    const { signal } = options;
    const fail = (err: unknown) => {
      if (!source.destroyed) source.destroy();
      return signal?.aborted ? abortError(signal, `${this.node}: write ${path}`) : err;
    };
    try {
      signal?.throwIfAborted();
      await this.mkdirs(posix.dirname(path), signal);
    } catch (err) {
      throw fail(err);
    }
    // An abort destroys the source, which ends the write loop below with an error.
    if (signal) addAbortSignal(signal, source);
    const tmp = tempSiblingPath(path);
    return this.sftpOp(async (sftp) => {
      let handle: Buffer | undefined;
      try {
        handle = await sftpOpenWrite(sftp, tmp, this.node);
        const written = await sftpWriteFrom(sftp, handle, source, tmp, this.node);
        signal?.throwIfAborted();
        // Data on disk before the rename: a crash of the node must not leave a complete-looking empty file.
        await sftpFsync(sftp, handle, tmp, this.node);
        const h = handle;
        handle = undefined;
        await sftpClose(sftp, h, tmp, this.node);
        await sftpPosixRename(sftp, tmp, path, this.node);
        return written;
      } catch (err) {
        if (handle) await sftpClose(sftp, handle, tmp, this.node).catch(() => undefined);
        await sftpUnlink(sftp, tmp, this.node).catch(() => undefined);
        throw fail(err);
      }
    });
  }

  async freeBytes(path: string): Promise<number> {
    return this.sftpOp((sftp) => sftpFreeBytes(sftp, path, this.node));
  }

  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.client.end();
    }
    await this.ended;
  }

  /**
   * Signals a process group with `kill` on a channel of its own (the reserved permit). sshd's
   * own "signal" request would need no channel, but sshd refuses it for root logins.
   */
  private async killGroup(pgid: number, sig: 'TERM' | 'KILL'): Promise<void> {
    // Never -1 (every process) or 0/1: only a real session leader's group.
    if (!Number.isInteger(pgid) || pgid <= 1) return;
    const release = await this.killLane.acquire();
    const started = startCommand(this.client, `kill -s ${sig} -- -${pgid} 2>/dev/null`, { host: this.node });
    void started.closed.then(release);
    await started.result;
  }

  /** `mkdir -p`, skipped (one SFTP stat instead of an exec channel) when the directory is there already. */
  private async mkdirs(dir: string, signal?: AbortSignal): Promise<void> {
    if ((await this.sftpOp((sftp) => sftpStat(sftp, dir, this.node)))?.isDirectory()) return;
    const mkdir = await this.exec(`mkdir -p -- ${shellQuote(dir)}`, { signal });
    if (mkdir.code !== 0) throw new Error(`${this.node}: mkdir -p ${dir}: ${mkdir.stderr.trim() || `exit ${mkdir.code}`}`);
  }

  private checkOpen(): void {
    if (this.closing) throw new Error(`ssh ${this.node}: NodeAccess is closed`);
    if (this.lost) throw this.lost;
  }

  private async sftpOp<T>(fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    this.checkOpen();
    const sftp = await this.session();
    try {
      return await fn(sftp);
    } catch (err) {
      throw this.lost ?? err;
    }
  }

  /** The shared SFTP session, opened on first use and again after it closed. */
  private session(): Promise<SFTPWrapper> {
    if (this.sftp) return this.sftp;
    const opening = this.openSession(() => {
      if (this.sftp === opening) this.sftp = undefined;
    });
    this.sftp = opening;
    return opening;
  }

  private async openSession(forget: () => void): Promise<SFTPWrapper> {
    const release = await this.channels.acquire();
    try {
      this.checkOpen();
      const sftp = await openSftp(this.client);
      const gone = () => {
        forget();
        release();
      };
      // ssh2 emits 'error' on a protocol failure (the pending requests get it too); unheard, it
      // would crash the worker.
      sftp.once('close', gone).once('end', gone).on('error', forget);
      return sftp;
    } catch (err) {
      release();
      forget();
      throw this.lost ?? err;
    }
  }
}
