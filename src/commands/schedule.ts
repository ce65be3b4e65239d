/**
 * `medusa schedule create|list|describe|pause|unpause|delete|trigger`: Temporal Schedules whose
 * action starts the `backupCluster` workflow with one JSON argument (a backup name template filled
 * by the workflow with its start time, so every run gets its own name). Temporal replaces cron: the
 * schedules live in the server, runs are visible in the Web UI, missed runs are caught up within an
 * hour, and a run never overlaps the previous one (skip, or queue one with --overlap buffer-one).
 */
import {
  Client, ScheduleAlreadyRunning, ScheduleDescription, ScheduleHandle, ScheduleNotFoundError, ScheduleOverlapPolicy, ScheduleSpec,
  ScheduleSpecDescription, ServiceError,
} from '@temporalio/client';
import type { ConfigOverrides, MedusaConfig } from '../config/medusa-config';
import { ExitError } from '../errors';
import { backupNameProblem } from '../plan/backup-name';
import { expandNameTemplate } from '../plan/name-template';
import { BACKUP_NAME } from '../shared/search-attributes';
import { openSession } from '../temporal/session';
import type { backupCluster, BackupClusterInput } from '../workflows';

export const SCHEDULED_WORKFLOW_TYPE = 'backupCluster';
/** Prefix of the workflow id of every scheduled run; the server appends the run's time, e.g. `-2026-11-27T02:00:00Z`. */
export const scheduledWorkflowIdPrefix = (scheduleId: string) => `medusa-backup-cluster-scheduled/${scheduleId}`;
const CATCHUP_WINDOW = '1 hour';

// ---------------------------------------------------------------------------------------------
// Durations and spec text

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `24h`, `90m`, `1h30m`, `1d`, `45s`, `500ms` → milliseconds; undefined if it is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(t)) return undefined;
  let total = 0;
  for (const [, n, unit] of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(n) * UNIT_MS[unit];
  return Math.round(total);
}

/** Milliseconds as Go-style text: 86400000 → `24h`, 5400000 → `1h30m`, 0 → `0s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

type CalendarDescription = NonNullable<ScheduleSpecDescription['calendars']>[number];
type FieldRanges = { start: number | string; end: number | string; step: number }[];
const MONTH_NUMBER = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];
const DAY_NUMBER = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

/** One calendar field as cron text: the full range is `*`, `0-59/15` over the full range is `*\/15`. */
function cronField(ranges: FieldRanges, min: number, max: number, names: string[] = []): string {
  const num = (v: number | string) => (typeof v === 'number' ? v : names.indexOf(v) + (names === MONTH_NUMBER ? 1 : 0));
  if (ranges.length === 0) return '*';
  return ranges.map((r) => {
    const start = num(r.start);
    const end = num(r.end);
    const step = r.step || 1;
    if (start === min && end === max) return step === 1 ? '*' : `*/${step}`;
    const span = end > start ? `${start}-${end}` : `${start}`;
    return step === 1 || end <= start ? span : `${span}/${step}`;
  }).join(',');
}

/** The server's structured calendar (a cron expression compiles into one) as cron text. */
export function calendarText(c: CalendarDescription): string {
  const second = cronField(c.second, 0, 59);
  const fields = [cronField(c.minute, 0, 59), cronField(c.hour, 0, 23), cronField(c.dayOfMonth, 1, 31),
    cronField(c.month, 1, 12, MONTH_NUMBER), cronField(c.dayOfWeek, 0, 6, DAY_NUMBER)];
  // Temporal reads 7 fields as seconds … year (6 would be … year): seconds or years need all seven.
  if (second !== '0' || c.year.length > 0) return [second, ...fields, c.year.length > 0 ? cronField(c.year, -1, -1) : '*'].join(' ');
  return fields.join(' ');
}

/** A schedule's spec in one phrase: `cron "0 2 * * *" (UTC)`, `every 24h offset 2h`. */
export function specText(spec: ScheduleSpecDescription | undefined): string {
  if (!spec) return 'no spec';
  const parts: string[] = [];
  for (const c of spec.calendars ?? []) parts.push(`cron "${calendarText(c)}"${spec.timezone ? ` (${spec.timezone})` : ''}`);
  for (const i of spec.intervals ?? []) parts.push(`every ${formatDuration(i.every)}${i.offset ? ` offset ${formatDuration(i.offset)}` : ''}`);
  return parts.length > 0 ? parts.join(' + ') : 'no spec';
}

// ---------------------------------------------------------------------------------------------
// The input of a scheduled run

/** Seconds one value of the finest time field of a name template spans (S < M < H < d < m < Y); undefined without one. */
export function templateResolutionMs(template: string): number | undefined {
  const spans: Record<string, number> = { S: 1000, M: 60_000, H: 3_600_000, d: 86_400_000, m: 28 * 86_400_000, Y: 365 * 86_400_000 };
  let finest: number | undefined;
  for (const [, f] of template.matchAll(/%(.)/g)) {
    const span = spans[f];
    if (span !== undefined && (finest === undefined || span < finest)) finest = span;
  }
  return finest;
}

function templateProblem(template: string, everyMs: number | undefined): string | undefined {
  const problem = backupNameProblem(expandNameTemplate(template, new Date(Date.UTC(2026, 0, 2, 3, 4, 5))));
  if (problem) return `--backup-name-template ${JSON.stringify(template)} does not give a valid name: ${problem}`;
  const resolution = templateResolutionMs(template);
  if (resolution === undefined) {
    return `--backup-name-template ${JSON.stringify(template)} has no time field (%Y %m %d %H %M %S): every run would get the same name`;
  }
  if (everyMs !== undefined && everyMs < resolution) {
    return `--every ${formatDuration(everyMs)} is shorter than the finest time field of --backup-name-template ${JSON.stringify(template)}: two runs would get the same name`;
  }
  return undefined;
}

function positiveInteger(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 1) throw new ExitError(`${option} must be a whole number ≥ 1, not ${text}`, 2);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Commands

export interface ScheduleCreateOptions {
  cron?: string;
  every?: string;
  offset?: string;
  backupNameTemplate?: string;
  mode: string;
  parallelUploads: string;
  parallelSnapshots: string;
  seedTarget?: string;
  enableMd5Checks: boolean;
  overlap: string;
  timezone?: string;
  paused: boolean;
  note?: string;
  taskQueue: string;
}

/** What a schedule runs: the backupCluster input and the schedule's spec, or an ExitError(2) for bad input. */
export function scheduleDefinition(scheduleId: string, o: ScheduleCreateOptions, g: ConfigOverrides): { input: BackupClusterInput; spec: ScheduleSpec } {
  if (scheduleId.trim() === '') throw new ExitError('the schedule id is empty', 2);
  if (o.cron === undefined && o.every === undefined) throw new ExitError('give the schedule a spec: --cron "0 2 * * *" or --every 24h', 2);
  if (o.cron !== undefined && o.every !== undefined) throw new ExitError('give either --cron or --every, not both', 2);
  if (o.offset !== undefined && o.every === undefined) throw new ExitError('--offset goes with --every (put the time into the cron expression instead)', 2);
  let spec: ScheduleSpec;
  let everyMs: number | undefined;
  if (o.every !== undefined) {
    everyMs = parseDuration(o.every);
    if (!everyMs) throw new ExitError(`--every must be a duration like 24h, 90m or 1h30m, not ${JSON.stringify(o.every)}`, 2);
    const offsetMs = o.offset === undefined ? undefined : parseDuration(o.offset);
    if (o.offset !== undefined && offsetMs === undefined) throw new ExitError(`--offset must be a duration like 2h, 30m or 0s, not ${JSON.stringify(o.offset)}`, 2);
    spec = { intervals: [{ every: everyMs, offset: offsetMs }], timezone: o.timezone ?? 'UTC' };
  } else {
    const cron = (o.cron ?? '').trim();
    if (cron === '') throw new ExitError('--cron is empty', 2);
    // A CRON_TZ=… inside the expression is its time zone; the server refuses a second, different one.
    spec = { cronExpressions: [cron], timezone: o.timezone ?? (/^(CRON_)?TZ=/.test(cron) ? undefined : 'UTC') };
  }
  if (o.mode !== 'full' && o.mode !== 'differential') throw new ExitError(`--mode must be full or differential, not ${o.mode}`, 2);
  const backupNameTemplate = o.backupNameTemplate ?? `${scheduleId}-%Y%m%d%H%M`;
  const problem = templateProblem(backupNameTemplate, everyMs);
  if (problem) throw new ExitError(problem, 2);
  if (g.prefix !== undefined && g.prefix.length === 1) throw new ExitError(`prefix ${g.prefix} is one character: Medusa would put the index and the data in different places; use a longer prefix`, 2);
  const input: BackupClusterInput = {
    backupNameTemplate,
    mode: o.mode,
    parallelUploads: positiveInteger(o.parallelUploads, '--parallel-uploads'),
    parallelSnapshots: positiveInteger(o.parallelSnapshots, '--parallel-snapshots'),
    seedTarget: o.seedTarget ?? g.fqdn,
    enableMd5Checks: o.enableMd5Checks,
    prefix: g.prefix,
    bucketName: g.bucketName,
  };
  // Absent keys, not `undefined` ones: the input shown in describe and in the Web UI is what runs.
  for (const k of Object.keys(input) as (keyof BackupClusterInput)[]) if (input[k] === undefined) delete input[k];
  return { input, spec };
}

/** medusa.ini of the command line, when readable: its [temporal] section says which Temporal holds the schedules. */
let configOf: () => MedusaConfig | undefined = () => undefined;

/** Where the schedule commands read medusa.ini from (set by the command line before each command). */
export function useConfigFrom(config: () => MedusaConfig | undefined): void {
  configOf = config;
}

async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  // Embedded, schedules live in the state directory's server; they fire while `medusa worker` keeps it up.
  const session = await openSession({ config: configOf() });
  try {
    return await fn(session.client);
  } finally {
    await session.close();
  }
}

/** The server's own words for a rejected request, one line; usage errors (bad spec, bad argument) exit 2. */
function rejected(scheduleId: string, err: unknown): never {
  if (err instanceof ScheduleNotFoundError) throw new ExitError(`schedule ${scheduleId} does not exist`);
  // The SDK turns the server's "Invalid schedule spec: …" into a TypeError with the rest of the text.
  if (err instanceof TypeError) throw new ExitError(`invalid schedule spec: ${err.message.split('\n')[0]}`, 2);
  if (err instanceof ServiceError) {
    const cause = err.cause as { code?: number; details?: string } | undefined;
    const text = (cause?.details ?? err.message).split('\n')[0];
    // gRPC INVALID_ARGUMENT
    if (cause?.code === 3) throw new ExitError(`the Temporal server refused schedule ${scheduleId}: ${text}`, 2);
    throw new ExitError(`schedule ${scheduleId}: ${text}`);
  }
  throw err;
}

/** describe(), or exit 1 for an unknown id or a schedule that does not start backupCluster (not ours to change). */
async function describeOurs(handle: ScheduleHandle): Promise<ScheduleDescription> {
  let d: ScheduleDescription;
  try {
    d = await handle.describe();
  } catch (err) {
    rejected(handle.scheduleId, err);
  }
  if (d.action.workflowType !== SCHEDULED_WORKFLOW_TYPE) {
    throw new ExitError(`schedule ${handle.scheduleId} is not a medusa backup schedule (it starts ${d.action.workflowType})`);
  }
  return d;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export async function scheduleCreate(scheduleId: string, o: ScheduleCreateOptions, g: ConfigOverrides): Promise<void> {
  const { input, spec } = scheduleDefinition(scheduleId, o, g);
  await withClient(async (client) => {
    let handle: ScheduleHandle;
    try {
      handle = await client.schedule.create<typeof backupCluster>({
        scheduleId,
        spec,
        action: {
          type: 'startWorkflow', workflowType: SCHEDULED_WORKFLOW_TYPE, taskQueue: o.taskQueue,
          workflowId: scheduledWorkflowIdPrefix(scheduleId), args: [input],
        },
        policies: { overlap: o.overlap === 'buffer-one' ? ScheduleOverlapPolicy.BUFFER_ONE : ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW, pauseOnFailure: false },
        state: { paused: o.paused, note: o.note ?? `created by medusa schedule create${o.paused ? ' --paused' : ''}` },
      });
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new ExitError(`schedule ${scheduleId} already exists`);
      rejected(scheduleId, err);
    }
    const d = await handle.describe();
    const next = d.info.nextActionTimes[0];
    process.stdout.write(`schedule ${scheduleId} created: ${specText(d.spec)}, ${d.state.paused ? 'paused' : `next run ${next ? iso(next) : 'none'}`}; `
      + `runs backupCluster on task queue ${o.taskQueue} with backup names ${input.backupNameTemplate}\n`);
  });
}

export async function scheduleList(): Promise<void> {
  await withClient(async (client) => {
    const rows: string[][] = [];
    try {
      for await (const s of client.schedule.list()) {
        if (s.action?.workflowType !== SCHEDULED_WORKFLOW_TYPE) continue;
        const next = s.info.nextActionTimes[0];
        rows.push([s.scheduleId, specText(s.spec), s.state.paused ? 'paused' : 'active', `next ${s.state.paused || !next ? '-' : iso(next)}`]);
      }
    } catch (err) {
      rejected('list', err);
    }
    rows.sort((a, b) => a[0].localeCompare(b[0]));
    const widths = [0, 1, 2].map((i) => Math.max(0, ...rows.map((r) => r[i].length)));
    for (const r of rows) process.stdout.write(`${r.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c)).join('  ')}\n`);
  });
}

const STATUS_BY_CODE = ['unknown', 'running', 'completed', 'failed', 'canceled', 'terminated', 'continued-as-new', 'timed-out'];

export async function scheduleDescribe(scheduleId: string): Promise<void> {
  await withClient(async (client) => {
    const d = await describeOurs(client.schedule.getHandle(scheduleId));
    const out: string[] = [];
    out.push(`schedule ${scheduleId}`);
    out.push(`spec: ${specText(d.spec)}`);
    out.push(`state: ${d.state.paused ? 'paused' : 'active'}${d.state.note ? ` (${d.state.note})` : ''}`);
    out.push(`action: ${d.action.workflowType} on task queue ${d.action.taskQueue}, workflow id ${d.action.workflowId}-<time>`);
    out.push(`input: ${JSON.stringify(d.action.args?.[0] ?? null)}`);
    out.push(`policies: overlap ${String(d.policies.overlap).toLowerCase().replace('_', '-')}, catch-up window ${formatDuration(d.policies.catchupWindow)}`);
    out.push(`runs: ${d.info.numActionsTaken} started, ${d.info.numActionsSkippedOverlap} skipped (overlap), ${d.info.numActionsMissedCatchupWindow} missed (catch-up window)`);
    const recent = d.info.recentActions;
    const rawRecent = d.raw.info?.recentActions ?? [];
    out.push(`last runs:${recent.length === 0 ? ' none' : ''}`);
    for (const [i, a] of [...recent.entries()].reverse()) {
      const { workflowId, firstExecutionRunId } = a.action.workflow;
      // The workflow's own status (exact), else the schedule's eventually consistent view of it.
      let outcome = STATUS_BY_CODE[Number(rawRecent[i]?.startWorkflowStatus ?? 0)] ?? 'unknown';
      let backupName: string | undefined;
      try {
        const w = await client.workflow.getHandle(workflowId, firstExecutionRunId).describe();
        outcome = w.status.name.toLowerCase().replace(/_/g, '-');
        backupName = w.typedSearchAttributes.get(BACKUP_NAME);
      } catch {
        // gone (retention) or not visible: keep the schedule's view
      }
      out.push(`  ${iso(a.takenAt)}  ${workflowId}  ${outcome}${backupName ? `  backup ${backupName}` : ''}`);
    }
    const next = d.state.paused ? [] : d.info.nextActionTimes.slice(0, 5);
    out.push(`next runs:${next.length === 0 ? (d.state.paused ? ' none (paused)' : ' none') : ''}`);
    for (const t of next) out.push(`  ${iso(t)}`);
    process.stdout.write(`${out.join('\n')}\n`);
  });
}

export async function schedulePause(scheduleId: string, note: string | undefined): Promise<void> {
  await withClient(async (client) => {
    const handle = client.schedule.getHandle(scheduleId);
    await describeOurs(handle);
    try {
      await handle.pause(note ?? 'paused by medusa schedule pause');
    } catch (err) {
      rejected(scheduleId, err);
    }
    process.stdout.write(`schedule ${scheduleId} paused\n`);
  });
}

export async function scheduleUnpause(scheduleId: string, note: string | undefined): Promise<void> {
  await withClient(async (client) => {
    const handle = client.schedule.getHandle(scheduleId);
    await describeOurs(handle);
    try {
      await handle.unpause(note ?? 'unpaused by medusa schedule unpause');
    } catch (err) {
      rejected(scheduleId, err);
    }
    const next = (await handle.describe()).info.nextActionTimes[0];
    process.stdout.write(`schedule ${scheduleId} unpaused: next run ${next ? iso(next) : 'none'}\n`);
  });
}

export async function scheduleDelete(scheduleId: string): Promise<void> {
  await withClient(async (client) => {
    const handle = client.schedule.getHandle(scheduleId);
    const d = await describeOurs(handle);
    try {
      await handle.delete();
    } catch (err) {
      rejected(scheduleId, err);
    }
    const running = d.info.runningActions.map((a) => a.workflow.workflowId);
    process.stdout.write(`schedule ${scheduleId} deleted${running.length ? ` (still running, not stopped: ${running.join(', ')})` : ''}\n`);
  });
}

/**
 * Runs the schedule's action now, under the schedule's own overlap policy (a backup never runs
 * beside another run of the schedule), and reports the workflow it started, or why none started.
 */
export async function scheduleTrigger(scheduleId: string, waitMs = 15_000): Promise<void> {
  await withClient(async (client) => {
    const handle = client.schedule.getHandle(scheduleId);
    const before = await describeOurs(handle);
    const seen = new Set(before.info.recentActions.map((a) => a.action.workflow.workflowId));
    try {
      await handle.trigger(before.policies.overlap);
    } catch (err) {
      rejected(scheduleId, err);
    }
    const deadline = Date.now() + waitMs;
    for (;;) {
      const d = await handle.describe();
      const started = d.info.recentActions.find((a) => !seen.has(a.action.workflow.workflowId));
      if (started) {
        process.stdout.write(`schedule ${scheduleId} triggered: workflow ${started.action.workflow.workflowId}\n`);
        return;
      }
      const running = d.info.runningActions.map((a) => a.workflow.workflowId).join(', ');
      if (d.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap) {
        const why = before.policies.overlap === ScheduleOverlapPolicy.BUFFER_ONE ? 'a run is already queued behind it (overlap policy buffer-one)' : 'the overlap policy is skip';
        throw new ExitError(`schedule ${scheduleId} not triggered: ${running || 'an earlier run'} is still running and ${why}`);
      }
      if (running && Number(d.raw.info?.bufferSize ?? 0) > Number(before.raw.info?.bufferSize ?? 0)) {
        process.stdout.write(`schedule ${scheduleId} triggered: the run is queued behind ${running} (overlap policy buffer-one)\n`);
        return;
      }
      if (Date.now() >= deadline) {
        const why = running ? `queued behind ${running}` : 'the run has not started yet';
        process.stdout.write(`schedule ${scheduleId} triggered: ${why}\n`);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  });
}
