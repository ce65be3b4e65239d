/**
 * `medusa schedule …` as users run it: the real CLI in a child process against the sandbox's
 * Temporal server. A schedule of backupCluster is created paused, listed, described, unpaused,
 * triggered — the run is a real cluster backup by an in-process worker, into local storage under a
 * prefix of its own, on all three nodes — paused again and deleted. Bad input is one line, exit 2.
 */
import { ScheduleDescription, ScheduleNotFoundError, WorkflowHandle } from '@temporalio/client';
import { scheduledWorkflowIdPrefix } from '../../src/commands/schedule';
import { Layout } from '../../src/plan/layout';
import { expandNameTemplate } from '../../src/plan/name-template';
import { Storage } from '../../src/storage/storage';
import type { BackupClusterResult } from '../../src/workflows';
import { Harness, sandboxConfig, startHarness } from '../support/backup-harness';
import { lines, medusa } from '../support/cli';
import { sandbox, uniqueId } from '../support/env';

// The sandbox's nodes (its SSH hosts); the first is the seed target.
const nodes = () => sandbox('SANDBOX_SSH_HOSTS').split(',');
const SEED = '127.0.0.2';
const prefix = uniqueId('sched').replace(/-/g, '');
const scheduleId = `${prefix}-nightly`;
const created: string[] = [];
let h: Harness;
let taskQueue: string;
let storage: Storage;

/** `medusa --prefix P --fqdn <seed> schedule …args`. */
const schedule = (args: string[]) => medusa(['--prefix', prefix, '--fqdn', SEED, 'schedule', ...args]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function describeSchedule(id: string): Promise<ScheduleDescription | undefined> {
  try {
    return await h.client.schedule.getHandle(id).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/** Polls until `probe` returns something, at most `ms`. */
async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(1000);
  }
}

beforeAll(async () => {
  h = await startHarness();
  ({ taskQueue, storage } = await h.worker(sandboxConfig('local', { prefix })));
}, 120_000);

afterAll(async () => {
  if (h) {
    for (const id of created) {
      const d = await describeSchedule(id);
      if (!d) continue;
      // A run left behind (a failed test) would hold the namespace's cluster backup: stop it first.
      for (const a of d.info.runningActions) {
        await h.client.workflow.getHandle(a.workflow.workflowId).terminate('schedule test cleanup').catch(() => undefined);
      }
      await h.client.schedule.getHandle(id).delete().catch(() => undefined);
    }
  }
  await h?.close();
}, 60_000);

describe('a schedule of cluster backups, from creation to deletion', () => {
  // Every hour, at a minute about half an hour away: no scheduled run can fire while the test runs.
  const offsetMinutes = (new Date().getUTCMinutes() + 30) % 60;
  let workflowId: string;
  let result: BackupClusterResult;

  test('create --every 1h --paused: one line, exit 0, and the schedule starts backupCluster with one JSON argument', async () => {
    created.push(scheduleId);
    const r = await schedule(['create', scheduleId, '--every', '1h', '--offset', `${offsetMinutes}m`, '--paused', '--task-queue', taskQueue]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      `schedule ${scheduleId} created: every 1h${offsetMinutes ? ` offset ${offsetMinutes}m` : ''}, paused; `
      + `runs backupCluster on task queue ${taskQueue} with backup names ${scheduleId}-%Y%m%d%H%M`,
    ]);
    const d = await describeSchedule(scheduleId);
    expect(d).toMatchObject({
      state: { paused: true },
      spec: { intervals: [{ every: 3_600_000, offset: offsetMinutes * 60_000 }] },
      policies: { overlap: 'SKIP', catchupWindow: 3_600_000 },
      action: { type: 'startWorkflow', workflowType: 'backupCluster', taskQueue, workflowId: scheduledWorkflowIdPrefix(scheduleId) },
    });
    expect(d?.action.args).toEqual([{
      backupNameTemplate: `${scheduleId}-%Y%m%d%H%M`, mode: 'differential', parallelUploads: 1, parallelSnapshots: 500,
      seedTarget: SEED, enableMd5Checks: false, prefix,
    }]);
  });

  test('create with an id that exists: one line, exit 1', async () => {
    const r = await schedule(['create', scheduleId, '--cron', '0 2 * * *', '--task-queue', taskQueue]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(lines(r.stderr)).toEqual([`medusa: schedule ${scheduleId} already exists`]);
  });

  test('list shows it, paused', async () => {
    // The list comes from the server's visibility store: eventually consistent.
    const line = await eventually('the schedule in the list', 20_000, async () => {
      const r = await schedule(['list']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      return lines(r.stdout).find((l) => l.startsWith(`${scheduleId} `) && / paused /.test(l));
    });
    expect(line).toMatch(new RegExp(`^${scheduleId} +every 1h( offset ${offsetMinutes}m)? +paused +next -$`));
  });

  test('describe shows the spec, the state, the template and no runs yet', async () => {
    const r = await schedule(['describe', scheduleId]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const out = lines(r.stdout);
    expect(out).toEqual(expect.arrayContaining([
      `schedule ${scheduleId}`,
      `spec: every 1h${offsetMinutes ? ` offset ${offsetMinutes}m` : ''}`,
      'state: paused (created by medusa schedule create --paused)',
      `action: backupCluster on task queue ${taskQueue}, workflow id ${scheduledWorkflowIdPrefix(scheduleId)}-<time>`,
      'policies: overlap skip, catch-up window 1h',
      'last runs: none',
      'next runs: none (paused)',
    ]));
    expect(out.find((l) => l.startsWith('input: '))).toContain(`"backupNameTemplate":"${scheduleId}-%Y%m%d%H%M"`);
  });

  test('unpause: exit 0, active, the next run at the offset', async () => {
    const r = await schedule(['unpause', scheduleId]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([expect.stringMatching(new RegExp(`^schedule ${scheduleId} unpaused: next run \\d{4}-\\d\\d-\\d\\dT\\d\\d:${String(offsetMinutes).padStart(2, '0')}:00Z$`))]);
    const d = await describeSchedule(scheduleId);
    expect(d?.state.paused).toBe(false);
    const out = lines((await schedule(['describe', scheduleId])).stdout);
    expect(out).toContain('state: active (unpaused by medusa schedule unpause)');
    expect(out[out.indexOf('next runs:') + 1]).toMatch(/^ {2}\d{4}-/);
  });

  test('trigger starts a backupCluster run now (a second trigger meanwhile is skipped): a real backup of every node, named from the template', async () => {
    const r = await schedule(['trigger', scheduleId]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [line] = lines(r.stdout);
    expect(line).toMatch(new RegExp(`^schedule ${scheduleId} triggered: workflow ${scheduledWorkflowIdPrefix(scheduleId)}-\\S+$`));
    workflowId = line.split(' ').at(-1) ?? '';

    // A second trigger while the run goes on (it takes several seconds): the overlap policy skips it.
    const again = await schedule(['trigger', scheduleId]);
    expect({ code: again.code, stdout: again.stdout, stderr: lines(again.stderr) }).toEqual({
      code: 1, stdout: '', stderr: [`medusa: schedule ${scheduleId} not triggered: ${workflowId} is still running and the overlap policy is skip`],
    });

    // The schedule records the run; follow it to its end (about a minute for three nodes).
    const action = await eventually('the run among the recent actions', 30_000, async () =>
      (await describeSchedule(scheduleId))?.info.recentActions.find((a) => a.action.workflow.workflowId === workflowId));
    const handle: WorkflowHandle = h.client.workflow.getHandle(workflowId, action.action.workflow.firstExecutionRunId);
    await eventually('the triggered backup to finish', 180_000, async () => {
      const w = await handle.describe();
      if (w.status.name === 'RUNNING') return undefined;
      return w.status.name;
    });
    result = (await handle.result()) as BackupClusterResult;
    const w = await handle.describe();
    expect(result.backupName).toBe(expandNameTemplate(`${scheduleId}-%Y%m%d%H%M`, w.startTime));
    expect(result.stage).toBe('done');
    expect(result.nodes.map((n) => [n.fqdn, n.phase]).sort()).toEqual(nodes().map((n) => [n, 'finished']).sort());
    for (const node of nodes()) {
      expect(await storage.head(new Layout(prefix, node).meta(result.backupName, 'manifest.json'))).toBeDefined();
    }
  }, 240_000);

  test('describe shows the run: its workflow id, its outcome and the backup it made', async () => {
    const run = await eventually('the run in describe', 20_000, async () => {
      const r = await schedule(['describe', scheduleId]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const out = lines(r.stdout);
      expect(out).toContain('runs: 1 started, 1 skipped (overlap), 0 missed (catch-up window)');
      return out.slice(out.indexOf('last runs:') + 1).find((l) => l.includes(workflowId) && l.includes('completed'));
    });
    expect(run).toMatch(new RegExp(`^ {2}\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ {2}${workflowId} {2}completed {2}backup ${result.backupName}$`));
  });

  test('pause --note: exit 0, paused with the note', async () => {
    const r = await schedule(['pause', scheduleId, '--note', 'maintenance window']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: `schedule ${scheduleId} paused\n` });
    expect((await describeSchedule(scheduleId))?.state).toMatchObject({ paused: true, note: 'maintenance window' });
    expect(lines((await schedule(['describe', scheduleId])).stdout)).toContain('state: paused (maintenance window)');
  });

  test('delete: exit 0; afterwards describe, pause, unpause, trigger and delete say it does not exist, exit 1', async () => {
    const r = await schedule(['delete', scheduleId]);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: `schedule ${scheduleId} deleted\n` });
    expect(await describeSchedule(scheduleId)).toBeUndefined();
    for (const command of ['describe', 'pause', 'unpause', 'trigger', 'delete']) {
      const after = await schedule([command, scheduleId]);
      expect({ command, code: after.code, stdout: after.stdout, stderr: lines(after.stderr) })
        .toEqual({ command, code: 1, stdout: '', stderr: [`medusa: schedule ${scheduleId} does not exist`] });
    }
  });
});

describe('bad input: one line on stderr, exit 2, no schedule', () => {
  type Case = [string, string[], RegExp];
  const cases: Case[] = [
    ['no spec', [], /^medusa: give the schedule a spec: --cron "0 2 \* \* \*" or --every 24h$/],
    ['both specs', ['--cron', '0 2 * * *', '--every', '24h'], /^medusa: give either --cron or --every, not both$/],
    ['a bad --every', ['--every', 'daily'], /^medusa: --every must be a duration like 24h, 90m or 1h30m, not "daily"$/],
    ['--every 0s', ['--every', '0s'], /^medusa: --every must be a duration/],
    ['a bad --offset', ['--every', '24h', '--offset', 'soon'], /^medusa: --offset must be a duration/],
    ['--offset without --every', ['--cron', '0 2 * * *', '--offset', '2h'], /^medusa: --offset goes with --every/],
    ['a cron with four fields (the server\'s words)', ['--cron', '0 2 * *'], /^medusa: invalid schedule spec: CronString does not have 5-7 fields$/],
    ['a cron minute out of range (the server\'s words)', ['--cron', '61 2 * * *'], /^medusa: invalid schedule spec: .*[Mm]inute.*$/],
    ['an unknown time zone (the server\'s words)', ['--cron', '0 2 * * *', '--timezone', 'Mars/Olympus_Mons'], /^medusa: invalid schedule spec: .*Mars\/Olympus_Mons.*$/],
    ['an offset longer than the interval (the server\'s words)', ['--every', '1h', '--offset', '2h'], /^medusa: invalid schedule spec: .*$/],
    ['a template giving a bad name', ['--every', '24h', '--backup-name-template', 'a/b-%Y%m%d'], /^medusa: --backup-name-template "a\/b-%Y%m%d" does not give a valid name: /],
    ['a template with no time field', ['--every', '24h', '--backup-name-template', 'nightly'], /^medusa: --backup-name-template "nightly" has no time field/],
    ['--every shorter than the template', ['--every', '30m', '--backup-name-template', 'n-%Y%m%d%H'], /^medusa: --every 30m is shorter than the finest time field/],
    ['--parallel-uploads 0', ['--every', '24h', '--parallel-uploads', '0'], /^medusa: --parallel-uploads must be a whole number ≥ 1, not 0$/],
    ['--mode incremental', ['--every', '24h', '--mode', 'incremental'], /^error: option '--mode <mode>' argument 'incremental' is invalid\./],
    ['--overlap allow-all', ['--every', '24h', '--overlap', 'allow-all'], /^error: option '--overlap <policy>' argument 'allow-all' is invalid\./],
  ];

  test.each(cases)('%s', async (_what, args, expected) => {
    const id = uniqueId(`${prefix}-bad`);
    created.push(id);
    const r = await schedule(['create', id, ...args, '--task-queue', taskQueue]);
    expect({ code: r.code, stdout: r.stdout, stderr: lines(r.stderr) }).toEqual({ code: 2, stdout: '', stderr: [expect.stringMatching(expected)] });
    expect(await describeSchedule(id)).toBeUndefined();
  });

  test('a command without a schedule id is a usage error, exit 2', async () => {
    const r = await schedule(['describe']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual(["error: missing required argument 'schedule-id'"]);
  });
});

describe('help', () => {
  test('medusa schedule --help lists the subcommands, create --help the options', async () => {
    const r = await medusa(['schedule', '--help']);
    expect(r.code).toBe(0);
    for (const c of ['create', 'list', 'describe', 'pause', 'unpause', 'delete', 'trigger']) expect(r.stdout).toMatch(new RegExp(`^ +${c} `, 'm'));
    const c = await medusa(['schedule', 'create', '--help']);
    expect(c.code).toBe(0);
    for (const o of ['--cron', '--every', '--offset', '--backup-name-template', '--mode', '--parallel-uploads', '--parallel-snapshots',
      '--seed-target', '--enable-md5-checks', '--overlap', '--timezone', '--paused', '--note', '--task-queue']) expect(c.stdout).toContain(o);
  });
});
