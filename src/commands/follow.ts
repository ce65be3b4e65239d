/**
 * Following a backup from the terminal: a live progress line on a TTY (phase, files and bytes from
 * the upload's heartbeat), phase changes otherwise, and the workflow's outcome at the end.
 * The pieces (a node backup's state as text, the poll loop) also serve `medusa backup-cluster`.
 */
import { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { UploadProgress } from '../activities/backup/types';
import { ExitError } from '../errors';
import { backupNodeProgress } from '../workflows';

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

async function uploadProgress(handle: WorkflowHandle): Promise<UploadProgress | undefined> {
  const desc = await handle.describe();
  for (const a of desc.raw.pendingActivities ?? []) {
    const p = a.heartbeatDetails?.payloads?.[0];
    if (p) return defaultPayloadConverter.fromPayload<UploadProgress>(p);
  }
  return undefined;
}

/** A node backup's phase and, while uploading, `  files done/total  bytes done/total` from the upload's heartbeat. */
export async function nodeBackupState(handle: WorkflowHandle): Promise<{ phase: string; detail: string }> {
  const p = await handle.query(backupNodeProgress);
  let detail = '';
  if (p.phase === 'uploading') {
    const u = await uploadProgress(handle);
    if (u) detail = `  ${u.filesDone}/${u.filesTotal} files  ${humanBytes(u.bytesDone)}/${humanBytes(u.bytesTotal)}`;
    else if (p.plan) detail = `  0/${p.plan.uploadFiles} files  0 B/${humanBytes(p.plan.uploadBytes)}`;
  }
  return { phase: p.phase, detail };
}

/**
 * What Ctrl-C does. `cancel` (a Temporal cluster runs the work): cancel the workflow — it then clears
 * its snapshots — and keep watching; a second Ctrl-C only stops watching. `pause` (embedded: this
 * command is the worker): stop at once and leave the workflow in the state directory, for the same
 * command to resume; SIGTERM and SIGHUP pause too.
 */
export type InterruptMode = 'cancel' | 'pause';

/** Runs `tick` about once a second until the workflow closes; returns its result or throws its failure. */
export async function pollUntilClosed<T>(handle: WorkflowHandle, tick: () => Promise<void>, err: NodeJS.WriteStream = process.stderr, mode: InterruptMode = 'cancel'): Promise<T> {
  let done = false;
  let interrupts = 0;
  let paused = false;
  let wake: () => void = () => undefined;
  // Aborted when this command stops watching: a long poll left behind would outlive the connection.
  const stop = new AbortController();
  const result = handle.client.connection.withAbortSignal(stop.signal, () => handle.result()).finally(() => { done = true; });
  result.catch(() => undefined);
  const onPause = () => {
    paused = true;
    wake();
  };
  const onInterrupt = () => {
    if (mode === 'pause') return onPause();
    interrupts++;
    if (interrupts === 1) {
      err.write(`\ncancelling workflow ${handle.workflowId}; it clears its snapshots before it ends (Ctrl-C again to stop watching)\n`);
      handle.cancel().catch((e: Error) => err.write(`cancelling failed: ${e.message.split('\n')[0]}\n`));
    }
  };
  process.on('SIGINT', onInterrupt);
  if (mode === 'pause') for (const s of ['SIGTERM', 'SIGHUP'] as const) process.on(s, onPause);
  try {
    while (!done && interrupts < 2 && !paused) {
      try {
        await tick();
      } catch {
        // The workflow may not have a worker yet, or may just have closed: keep waiting for the result.
      }
      await Promise.race([result.then(() => undefined, () => undefined), new Promise<void>((r) => { wake = r; setTimeout(r, 1000); })]);
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    for (const s of ['SIGTERM', 'SIGHUP'] as const) process.off(s, onPause);
  }
  if (!done) stop.abort();
  if (paused && !done) throw new ExitError(`paused: workflow ${handle.workflowId} waits in the embedded server's state; run the same command again to resume it`, 130);
  if (!done) throw new ExitError(`stopped watching; workflow ${handle.workflowId} goes on (see it in the Temporal UI)`, 130);
  return (await result) as T;
}

/** Polls until the workflow closes; returns its result or throws its failure. */
export async function follow<T>(handle: WorkflowHandle, label: string, out: NodeJS.WriteStream = process.stderr, mode: InterruptMode = 'cancel'): Promise<T> {
  const tty = out.isTTY === true;
  let lastPhase = '';
  try {
    return await pollUntilClosed<T>(handle, async () => {
      const s = await nodeBackupState(handle);
      const line = `${label}: ${s.phase}${s.detail}`;
      if (tty) out.write(`\r\x1b[K${line}`);
      else if (s.phase !== lastPhase) out.write(`${line}\n`);
      lastPhase = s.phase;
    }, out, mode);
  } finally {
    if (tty) out.write('\r\x1b[K');
  }
}
