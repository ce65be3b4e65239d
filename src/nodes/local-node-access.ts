/**
 * The NodeAccess adapter for a worker running on the Cassandra node itself (polling that node's
 * task queue): commands through `sh -c`, files through fs. Behaves like the SSH adapter — the
 * same shell, stdin from /dev/null, fs-style error codes, mtimes in whole seconds, the same
 * AbortError — so activities cannot tell which one they hold.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { abortError } from './abort-error';
import { CommandResult, FileStat, NodeAccess } from './node-access';
import { replaceAtomically } from '../shared/atomic-file';
import { tempSiblingPath } from './temp-path';

export interface LocalNodeAccessOptions {
  /** After an aborted exec: time from SIGTERM to SIGKILL of the command's process group. Default 3000 ms. */
  killGraceMs?: number;
}

/** NodeAccess for this machine; `node` is only its name in messages. Nothing to open or close. */
export function createLocalNodeAccess(node: string, options: LocalNodeAccessOptions = {}): NodeAccess {
  const killGraceMs = options.killGraceMs ?? 3000;
  return {
    node,
    filesAreLocal: true,
    exec: (command, opts) => run(node, command, killGraceMs, opts?.signal),
    async createReadStream(path, opts) {
      // Opening first makes a missing file reject here, as over SFTP, not later on the stream.
      const handle = await open(path, 'r');
      return handle.createReadStream({ start: opts?.start }) as Readable;
    },
    async stat(path): Promise<FileStat | undefined> {
      try {
        const st = await stat(path);
        // Whole seconds, because that is all SFTP v3 can report for the SSH adapter.
        return { size: st.size, mtimeMs: Math.floor(st.mtimeMs / 1000) * 1000 };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    readFile: (path) => readFile(path),
    async writeFile(path, data) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = tempSiblingPath(path);
      try {
        await writeFile(tmp, data);
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
    },
    async writeStream(path, source, opts) {
      const signal = opts?.signal;
      let written = 0;
      try {
        await writeLocalFileAtomically(path, async (tmp) => {
          const out = createWriteStream(tmp, { flags: 'wx' });
          await pipeline(source, out, ...(signal ? [{ signal }] : []));
          written = out.bytesWritten;
        }, signal, false);
        return written;
      } catch (err) {
        if (!source.destroyed) source.destroy();
        if (signal?.aborted) throw abortError(signal, `${node}: write ${path}`);
        throw err;
      }
    },
    async freeBytes(path) {
      const st = await statfs(path);
      return st.bavail * st.bsize;
    },
    close: async () => undefined,
  };
}

/**
 * Makes the file `path` of this machine appear whole or not at all (a hidden temp sibling, renamed once `fill` wrote
 * it): NodeAccess.writeStream's promise for local files, also used by downloads written in ranges. `flush` as in
 * replaceAtomically: downloads flush their whole destination once instead.
 */
export function writeLocalFileAtomically(path: string, fill: (tmp: string) => Promise<void>, signal?: AbortSignal, flush = true): Promise<void> {
  return replaceAtomically(path, tempSiblingPath(path), fill, signal, flush);
}

function run(node: string, command: string, killGraceMs: number, signal?: AbortSignal): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal, `${node}: ${command}`));
    // detached: the shell leads a new process group, so an abort reaches everything it started.
    const child = spawn('sh', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const onAbort = () => {
      settle(() => reject(abortError(signal!, `${node}: ${command}`)));
      killGroup('SIGTERM');
      timers.push(setTimeout(() => killGroup('SIGKILL'), killGraceMs).unref());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => errOut.push(d));
    child.once('error', (err) => settle(() => reject(err)));
    child.once('close', (code, sig) => {
      for (const t of timers) clearTimeout(t);
      const r: CommandResult = { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8'), code };
      if (sig) r.signal = sig;
      settle(() => resolve(r));
    });
  });
}
