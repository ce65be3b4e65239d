/**
 * Following a backup from the terminal: a live progress line on a TTY (phase, files and bytes from
 * the upload's heartbeat), phase changes otherwise, and the workflow's outcome at the end.
 */
import { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { UploadProgress } from '../activities/backup/types';
import { backupNodeProgress, BackupNodeProgress } from '../workflows';

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

/** Polls until the workflow closes; returns its result or throws its failure. */
export async function follow<T>(handle: WorkflowHandle, label: string, out: NodeJS.WriteStream = process.stderr): Promise<T> {
  const tty = out.isTTY === true;
  let lastPhase = '';
  let done = false;
  const result = handle.result().finally(() => { done = true; });
  result.catch(() => undefined);
  while (!done) {
    try {
      const p: BackupNodeProgress = await handle.query(backupNodeProgress);
      let line = `${label}: ${p.phase}`;
      if (p.phase === 'uploading') {
        const u = await uploadProgress(handle);
        if (u) line += `  ${u.filesDone}/${u.filesTotal} files  ${humanBytes(u.bytesDone)}/${humanBytes(u.bytesTotal)}`;
        else if (p.plan) line += `  0/${p.plan.uploadFiles} files  0 B/${humanBytes(p.plan.uploadBytes)}`;
      }
      if (tty) out.write(`\r\x1b[K${line}`);
      else if (p.phase !== lastPhase) out.write(`${line}\n`);
      lastPhase = p.phase;
    } catch {
      // The workflow may not have a worker yet, or may just have closed: keep waiting for the result.
    }
    await Promise.race([result.then(() => undefined, () => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  if (tty) out.write('\r\x1b[K');
  return (await result) as T;
}
