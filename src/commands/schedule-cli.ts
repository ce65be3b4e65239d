/**
 * The `schedule` command group's options and help (commander), light to load: the commands
 * themselves (src/commands/schedule.ts, which needs the Temporal client) load when one runs.
 */
import { Command, Option } from 'commander';
import type { ConfigOverrides, MedusaConfig } from '../config/medusa-config';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import type { ScheduleCreateOptions } from './schedule';

/** The `schedule` command group, built on a command that client.ts created (so it inherits exitOverride). */
export function registerScheduleCommands(schedule: Command, globals: () => ConfigOverrides, config: () => MedusaConfig | undefined = () => undefined): Command {
  const load = async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when a schedule command runs (see client.ts)
    const commands: typeof import('./schedule') = require('./schedule');
    commands.useConfigFrom(config);
    return commands;
  };
  schedule.description('Temporal Schedules of cluster backups (backupCluster): create, list, describe, pause, unpause, delete, trigger');

  schedule.command('create <schedule-id>')
    .description('create a schedule that runs a cluster backup (Temporal replaces cron); --fqdn is the default --seed-target, --prefix and --bucket-name go into every run')
    .option('--cron <expression>', 'cron expression, e.g. "0 2 * * *" (in --timezone)')
    .option('--every <duration>', 'interval, e.g. 24h, 90m, 1h30m (counted from the Unix epoch)')
    .option('--offset <duration>', 'with --every: shift the runs, e.g. --every 24h --offset 2h runs at 02:00 UTC')
    .option('--backup-name-template <template>', 'backup name, %Y %m %d %H %M %S filled with the run\'s start time in UTC (default: <schedule-id>-%Y%m%d%H%M)')
    .addOption(new Option('--mode <mode>', 'full or differential backups').choices(['full', 'differential']).default('differential'))
    .option('--parallel-uploads <n>', 'nodes uploading at once', '1')
    .option('--parallel-snapshots <n>', 'nodes taking their snapshot at once', '500')
    .option('--seed-target <host>', 'node whose token ring lists the cluster (default: --fqdn, else the worker\'s [storage] fqdn)')
    .option('--enable-md5-checks', 'use md5 as well as size to tell whether a file is already in storage', false)
    .addOption(new Option('--overlap <policy>', 'when a run is due while the previous one still runs: skip it, or start it when the previous one ends').choices(['skip', 'buffer-one']).default('skip'))
    .option('--timezone <zone>', 'time zone of --cron, an IANA name (default: UTC, or the CRON_TZ= of the expression)')
    .option('--paused', 'create it paused', false)
    .option('--note <text>', 'note shown with the schedule\'s state')
    .option('--task-queue <queue>', 'task queue of the worker that runs the backups', DEFAULT_TASK_QUEUE)
    .action(async (id: string, o: ScheduleCreateOptions) => (await load()).scheduleCreate(id, o, globals()));

  schedule.command('list')
    .description('one line per backup schedule: id, spec, paused or active, next run')
    .action(async () => (await load()).scheduleList());

  schedule.command('describe <schedule-id>')
    .description('spec, state, what it runs, the last runs (workflow ids and outcomes) and the next runs')
    .action(async (id: string) => (await load()).scheduleDescribe(id));

  schedule.command('pause <schedule-id>')
    .description('stop starting runs (a running backup goes on)')
    .option('--note <text>', 'why, shown with the state')
    .action(async (id: string, o: { note?: string }) => (await load()).schedulePause(id, o.note));

  schedule.command('unpause <schedule-id>')
    .description('start runs again')
    .option('--note <text>', 'note shown with the state')
    .action(async (id: string, o: { note?: string }) => (await load()).scheduleUnpause(id, o.note));

  schedule.command('delete <schedule-id>')
    .description('delete the schedule (a running backup goes on)')
    .action(async (id: string) => (await load()).scheduleDelete(id));

  schedule.command('trigger <schedule-id>')
    .description('run the backup now, under the schedule\'s overlap policy, and print the workflow id')
    .action(async (id: string) => (await load()).scheduleTrigger(id));

  return schedule;
}
