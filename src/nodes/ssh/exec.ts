/**
 * One command on one SSH exec channel, with the two things plain `client.exec` leaves out:
 * cancellation (an AbortSignal) and telling a command's own end from the loss of the connection.
 */
import { Client, ClientChannel } from 'ssh2';
import { abortError } from '../abort-error';
import { SshConnectError } from './errors';
import { MARKER_PREFIX, MarkedOutput } from './session-marker';

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status, or null when the command was killed by a signal. */
  code: number | null;
  /** The killing signal (`SIGTERM`, …) when `code` is null. */
  signal?: string;
}

/** Sends `signal` to a process group on the host, by some other way than this channel. */
export type KillGroup = (pgid: number, signal: 'TERM' | 'KILL') => Promise<void>;

export interface CommandOptions {
  /** Aborting sends SIGTERM to the command's process group, SIGKILL after `killGraceMs`. */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL, and again until we close the channel ourselves. Default 3000. */
  killGraceMs?: number;
  /** Host name for error messages. */
  host?: string;
  /**
   * How an abort reaches the command. Without it, ssh2's "signal" channel request, which sshd
   * refuses for root logins ("session signalling requires privilege separation": OpenSSH drops
   * privilege separation after a root login). With it, the command is prefixed with a marker
   * that reports its process group (see session-marker.ts) and this function is called with it.
   */
  killGroup?: KillGroup;
  /** The command's stdout, chunk by chunk as it comes (then not collected: the result's stdout is empty). */
  onStdout?: (chunk: Buffer) => void;
}

export interface StartedCommand {
  /**
   * The command's output and status. Rejects with an AbortError as soon as the signal fires (not
   * waiting for the process to die), with the channel-open error (e.g. "Channel open failure"
   * beyond MaxSessions), or with {@link SshConnectError} when the channel ends without an exit
   * status, which is what a dropped connection looks like.
   */
  result: Promise<ExecResult>;
  /**
   * Resolves once the channel is closed or failed to open: only then is its session slot on the
   * server free again (sshd keeps the slot while the command's processes live, even after abort).
   */
  closed: Promise<void>;
  /**
   * Writes to the command's standard input, which stays open: the command sees its end only when
   * the channel or the connection closes (a command that must stop when its caller goes away reads it).
   */
  write(data: string | Buffer): void;
}

/** Starts `command` (a shell string for the remote login shell) on a new session channel. */
export function startCommand(client: Client, command: string, options: CommandOptions = {}): StartedCommand {
  const { signal, killGraceMs = 3000, host = 'ssh host', killGroup, onStdout } = options;
  let markClosed!: () => void;
  // What `write` was given before the channel opened; afterwards it goes straight to the channel.
  let pending: (string | Buffer)[] | undefined = [];
  let writeNow: ((data: string | Buffer) => void) | undefined;
  const write = (data: string | Buffer) => {
    if (writeNow) writeNow(data);
    else pending?.push(data);
  };
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const result = new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    let channel: ClientChannel | undefined;
    let pgid: number | undefined;
    let stopping = false;
    const timers: NodeJS.Timeout[] = [];
    const send = (sig: 'TERM' | 'KILL') => {
      if (!killGroup) channel?.signal(sig);
      else if (pgid !== undefined) killGroup(pgid, sig).catch(() => undefined); // best effort: the channel close is what counts
    };
    // Called once the channel is open and, with killGroup, once the process group is known.
    const stop = () => {
      if (!stopping && channel && (!killGroup || pgid !== undefined)) {
        stopping = true;
        send('TERM');
        timers.push(setTimeout(() => {
          send('KILL');
          timers.push(setTimeout(() => channel?.close(), killGraceMs).unref());
        }, killGraceMs).unref());
      }
    };
    const onAbort = () => {
      settle(() => reject(abortError(signal!, `${host}: ${command}`)));
      stop();
    };
    if (signal?.aborted) {
      markClosed();
      return settle(() => reject(abortError(signal, `${host}: ${command}`)));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const onOpen = (err: Error | undefined, ch: ClientChannel) => {
      if (err) {
        markClosed();
        return settle(() => reject(err));
      }
      channel = ch;
      const out = new MarkedOutput(undefined, onStdout);
      const errOut = new MarkedOutput((g) => {
        pgid = g;
        if (settled) stop(); // aborted before the group was known
      });
      let exit: { code: number | null; signal?: string } | undefined;
      ch.on('data', (d: Buffer) => (killGroup ? out.push(d) : out.pushRaw(d)));
      ch.stderr.on('data', (d: Buffer) => (killGroup ? errOut.push(d) : errOut.pushRaw(d)));
      ch.on('exit', (code: number | null, sig?: string) => (exit = { code, signal: sig ?? undefined }));
      ch.on('close', () => {
        for (const t of timers) clearTimeout(t);
        markClosed();
        if (!exit) {
          return settle(() => reject(new SshConnectError(`ssh ${host}: the channel of "${command}" closed without an exit status (connection lost?)`, host)));
        }
        const r: ExecResult = { stdout: out.text(), stderr: errOut.text(), code: exit.code };
        if (exit.signal !== undefined) r.signal = exit.signal;
        settle(() => resolve(r));
      });
      writeNow = (data) => {
        ch.write(data);
      };
      for (const data of pending ?? []) ch.write(data);
      pending = undefined;
      if (settled) stop(); // aborted while the channel was being opened
    };
    try {
      client.exec(killGroup ? MARKER_PREFIX + command : command, onOpen);
    } catch (err) {
      // ssh2 throws "Not connected" synchronously once the socket is gone.
      markClosed();
      settle(() => reject(new SshConnectError(`ssh ${host}: ${(err as Error).message}`, host)));
    }
  });
  return { result, closed, write };
}
