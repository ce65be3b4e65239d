/**
 * The `medusa` command. Global options come before the command, as in cassandra-medusa:
 *   medusa [--config-file F] [--fqdn X] [--prefix P] [--bucket-name B] [-v] <command> …
 * Each command lives in src/commands/; this file only registers them and turns errors into exit codes.
 */
import { Command, Option } from 'commander';
import { AGENT_SUBCOMMAND } from './agent/protocol';
import type { BackupClusterCommandOptions } from './commands/backup-cluster';
import { OFFLINE_HELP, ONLINE_HELP, STAGGER_HELP } from './commands/help';
import type { RestoreClusterCommandOptions, RestoreNodeCommandOptions } from './commands/restore';
import { registerScheduleCommands } from './commands/schedule-cli';
import { expandShortFlags, shortFlagsHelp } from './commands/short-flags';
import { loadMedusaConfig } from './config/medusa-config';
import { ExitError } from './errors';
import { VERSION } from './version';

// Each command's code (and the Temporal SDK, the AWS SDK, …) loads only when that command runs. `require`, not
// import(): the CLI is CommonJS, compiled and under tsx alike, and tsx hooks require only.
/* eslint-disable @typescript-eslint/no-require-imports */
const commands = {
  backup: async (): Promise<typeof import('./commands/backup')> => require('./commands/backup'),
  backupCluster: async (): Promise<typeof import('./commands/backup-cluster')> => require('./commands/backup-cluster'),
  catalogue: async (): Promise<typeof import('./commands/catalogue')> => require('./commands/catalogue'),
  checkWorker: async (): Promise<typeof import('./commands/check-worker')> => require('./commands/check-worker'),
  download: async (): Promise<typeof import('./commands/download')> => require('./commands/download'),
  purge: async (): Promise<typeof import('./commands/purge')> => require('./commands/purge'),
  restore: async (): Promise<typeof import('./commands/restore')> => require('./commands/restore'),
  worker: async (): Promise<typeof import('./worker')> => require('./worker'),
  agent: async (): Promise<typeof import('./agent/serve')> => require('./agent/serve'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface Globals {
  configFile: string;
  fqdn?: string;
  prefix?: string;
  bucketName?: string;
  keyFile?: string;
  verbose: boolean;
}

/** A repeatable option's values, in order. */
const collect = (v: string, all: string[]) => [...all, v];

/** The options restore-node and restore-cluster share: what to restore, how, and whether to verify. */
function withRestoreSelection(command: Command, what: string): Command {
  return command
    .option('--verify', `after the restore, run the [checks] query of medusa.ini against ${what}`, false)
    .option('--no-verify', 'do not verify (the default)')
    .option('--keyspace <keyspace>', 'restore tables from this keyspace (repeatable)', collect, [])
    .option('--table <keyspace.table>', 'restore only this table (repeatable)', collect, [])
    .option('--online', ONLINE_HELP, false)
    .option('--offline', OFFLINE_HELP, false)
    .option('--use-sstableloader', 'not supported: table restores use nodetool import (--online)', false);
}

export function buildProgram(): Command {
  const globals = () => program.opts<Globals>();
  const overrides = () => {
    const g = globals();
    return { fqdn: g.fqdn, prefix: g.prefix, bucketName: g.bucketName, keyFile: g.keyFile };
  };
  /** medusa.ini when it can be read (commands that work without it use it for [temporal] only). */
  const configIfReadable = () => {
    try {
      return loadMedusaConfig(globals().configFile, overrides());
    } catch {
      return undefined;
    }
  };
  const program: Command = new Command('medusa')
    .description('Cassandra backups, Medusa-compatible, orchestrated by Temporal')
    .version(VERSION, '--version')
    .addOption(new Option('--config-file <file>', 'medusa.ini to read').env('MEDUSA_CONFIG_FILE').default('/etc/medusa/medusa.ini'))
    .option('--fqdn <name>', "the node to act on (default: [storage] fqdn, else this host's name)")
    .option('--prefix <prefix>', 'prefix for every object in the bucket (several clusters in one bucket)')
    .option('--bucket-name <name>', 'bucket (or local directory under base_path) holding the backups')
    .option('--key-file <file>', 'storage credentials file')
    .option('-v, --verbose', 'more output', false)
    .exitOverride();

  program.command('check-worker')
    .description('check that a worker polls the task queue, by running a tiny workflow on it')
    .option('--task-queue <queue>', 'task queue to check (default: the central queue "medusa")')
    .option('--timeout <seconds>', 'give up after this many seconds', '30')
    .action(async (o: { taskQueue?: string; timeout: string }) => {
      const timeoutSeconds = Number(o.timeout);
      if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) throw new ExitError(`--timeout must be a whole number of seconds ≥ 1, not ${o.timeout}`, 2);
      await (await commands.checkWorker()).checkWorkerCommand({ taskQueue: o.taskQueue, timeoutSeconds, config: configIfReadable() });
    });

  program.command('backup').alias('backup-node')
    .description('back up this node (or the node named by --fqdn) as a Temporal workflow, and follow it to the end')
    .option('--backup-name <name>', 'custom name for the backup (default: local time as YYYYMMDDHHMM)')
    .option('--stagger <seconds>', "drop initial backups if longer than a duration: a node with no finished backup waits for the node before it in token order to have one, at most this many seconds")
    .option('--enable-md5-checks', 'during backups and verify, use md5 calculations to determine file integrity (in addition to size, which is used by default)', false)
    .addOption(new Option('--mode <mode>', 'full: every file copied into this backup; differential: only files new since earlier backups').choices(['full', 'differential']).default('differential'))
    .option('--keep-snapshot', "don't delete the snapshot after the backup completes", false)
    .option('--use-existing-snapshot', 'back up an existing snapshot named like --backup-name instead of taking one', false)
    .option('--temp-dir <dir>', 'directory on the node for work files', '/tmp')
    .option('--no-wait', 'start the backup, print its workflow id and return')
    .option('--task-queue <queue>', 'task queue of the worker that runs it', 'medusa')
    .action(async (o: { backupName?: string; stagger?: string; enableMd5Checks: boolean; mode: string; keepSnapshot: boolean; useExistingSnapshot: boolean; tempDir: string; wait: boolean; taskQueue: string }) => {
      let stagger: number | undefined;
      if (o.stagger !== undefined) {
        stagger = Number(o.stagger);
        if (!Number.isInteger(stagger) || stagger < 1) throw new ExitError(`--stagger must be a whole number of seconds ≥ 1, not ${o.stagger}`, 2);
      }
      await (await commands.backup()).backupCommand({ ...o, stagger, configFile: globals().configFile, overrides: overrides() });
    });

  program.command('backup-cluster')
    .description('back up every node of the cluster (every datacenter): snapshots first, then each node\'s upload; follow it to the end')
    .requiredOption('--backup-name <name>', 'name of the backup')
    .option('--seed-target <host>', 'node whose token ring lists the cluster (default: [storage] fqdn of medusa.ini, or --fqdn)')
    .option('--stagger <seconds>', STAGGER_HELP)
    .option('--enable-md5-checks', 'during backups and verify, use md5 calculations to determine file integrity (in addition to size, which is used by default)', false)
    .addOption(new Option('--mode <mode>', 'full: every file copied into this backup; differential: only files new since earlier backups').choices(['full', 'differential']).default('differential'))
    .option('--temp-dir <dir>', 'directory for work files on the nodes; must be an existing directory on this machine too, as in Medusa', '/tmp')
    .option('--parallel-snapshots <n>', 'number of nodes taking their snapshot at once', '500')
    .option('--parallel-uploads <n>', 'number of nodes uploading at once (a sliding window; the update setParallelUploads changes it while running)', '1')
    .option('--keep-snapshot', "don't delete the snapshots after the backup completes", false)
    .option('--use-existing-snapshot', 'back up an existing snapshot named like --backup-name on every node instead of taking one', false)
    .option('--no-wait', 'start the backup, print its workflow id and return')
    .option('--task-queue <queue>', 'task queue of the worker that runs it', 'medusa')
    .option('--node-workers', 'run the node steps on a worker on each node (its queue from [orchestration] node_task_queue) instead of over SSH; '
      + 'default: [orchestration] node_access of the worker\'s medusa.ini', false)
    .configureHelp(shortFlagsHelp('backup-cluster'))
    .action(async (o: Omit<BackupClusterCommandOptions, 'configFile' | 'overrides'>) => {
      await (await commands.backupCluster()).backupClusterCommand({ ...o, configFile: globals().configFile, overrides: overrides() });
    });

  program.command('download')
    .description('download this node\'s backup (or --fqdn\'s) into a directory on that node, checked against the manifest, as a Temporal workflow')
    .requiredOption('--backup-name <name>', 'backup name')
    .requiredOption('--download-destination <dir>', 'existing directory on the node to download into (absolute path)')
    .option('--keyspace <keyspace>', 'download tables from this keyspace (repeatable)', collect, [])
    .option('--table <keyspace.table>', 'download only this table (repeatable)', collect, [])
    .option('--ignore-system-keyspaces', 'do not download the system keyspaces (kept by default)', false)
    .option('--temp-dir <dir>', 'directory on the node for work files', '/tmp')
    .option('--task-queue <queue>', 'task queue of the worker that runs it', 'medusa')
    .action(async (o: { backupName: string; downloadDestination: string; keyspace: string[]; table: string[]; ignoreSystemKeyspaces: boolean; tempDir: string; taskQueue: string }) => {
      await (await commands.download()).downloadCommand({ ...o, configFile: globals().configFile, overrides: overrides() });
    });

  withRestoreSelection(program.command('restore-node'), 'the node')
    .description('restore this node (or --fqdn) in place from its backup, as a Temporal workflow, and follow it to the end. '
      + 'Offline (a whole node, the default): download while Cassandra runs, then stop it, swap its tables for the downloaded ones and start it again; '
      + 'online (the default with --keyspace/--table): nodetool import the tables into the running node, no restart')
    .requiredOption('--backup-name <name>', 'backup name')
    .option('--temp-dir <dir>', 'directory on the node for the restore directory (absolute path; default: next to the node\'s data directory)')
    .option('--in-place', 'restore onto the node the backup was taken from (the default; the only kind supported)')
    .option('--remote', 'not here: restore-cluster restores onto other hosts (a whole cluster of the same size)')
    .option('--keep-auth', 'keep system_auth as found on the node: cannot be used with --in-place, as in Medusa', false)
    .option('--seeds <list>', 'accepted for Medusa compatibility and ignored: the node is started on its own and waited for')
    .option('--version-target <version>', 'accepted for Medusa compatibility and ignored (it only matters to sstableloader)')
    .option('--task-queue <queue>', 'task queue of the worker that runs it', 'medusa')
    .action(async (o: Omit<RestoreNodeCommandOptions, 'configFile' | 'overrides'>) => {
      await (await commands.restore()).restoreNodeCommand({ ...o, configFile: globals().configFile, overrides: overrides() });
    });

  withRestoreSelection(program.command('restore-cluster'), 'the cluster')
    .description('restore every node of a backup in place (the cluster it was taken from) or onto another cluster of the same size (each target '
      + 'pinned to its source node\'s tokens), as a Temporal workflow, and follow it to the end. '
      + 'Offline (the default): every node downloads while Cassandra runs, then the nodes are stopped, their tables swapped for the downloaded ones, '
      + 'and they are started again one at a time in token order; online (the default with --keyspace/--table): nodetool import the tables into the '
      + 'running nodes, no restart. Holds the cluster lock: no backup of the cluster runs meanwhile')
    .requiredOption('--backup-name <name>', 'backup name')
    .option('--seed-target <host>', 'a node of the cluster to restore onto (reads its token ring): the backup\'s own cluster, or another of the same size; this or --host-list')
    .option('--host-list <file>', 'file listing the nodes, one line each: seed,target,source (seed True or False; target and source the same node: '
      + 'a source other than its target restores onto other hosts: every node of that cluster must be listed); this or --seed-target')
    .option('--temp-dir <dir>', 'directory on each node for its restore directory (absolute path; default: next to the node\'s data directory)')
    .option('--keep-auth', 'onto other hosts: keep their system_auth (users, roles) instead of the backup\'s; ignored in place', false)
    .option('-y, --bypass-checks', 'accepted for Medusa compatibility: nothing asks for confirmation', false)
    .option('--parallel-restores <n>', 'number of nodes downloading (or importing) at once', '500')
    .option('--version-target <version>', 'accepted for Medusa compatibility and ignored (it only matters to sstableloader)')
    .option('--ignore-racks', 'accepted for Medusa compatibility and ignored: in place, every node gets its own backup', false)
    .option('--force', 'restore the finished nodes of an incomplete backup (without it, an incomplete backup is refused)', false)
    .option('--task-queue <queue>', 'task queue of the worker that runs it', 'medusa')
    .configureHelp(shortFlagsHelp('restore-cluster'))
    .action(async (o: Omit<RestoreClusterCommandOptions, 'configFile' | 'overrides'>) => {
      await (await commands.restore()).restoreClusterCommand({ ...o, configFile: globals().configFile, overrides: overrides() });
    });

  program.command('purge')
    .description('delete the backups beyond [storage] max_backup_age / max_backup_count on every node, then unreferenced pool files older than backup_grace_period_in_days')
    .option('--task-queue <queue>', 'task queue of the worker that runs it', 'medusa')
    .action(async (o: { taskQueue: string }) => {
      await (await commands.purge()).purgeCommand({ ...o, configFile: globals().configFile, overrides: overrides() });
    });

  program.command('delete-backup')
    .description('delete a backup of this node (--fqdn / [storage] fqdn), or of every node with --all-nodes')
    .requiredOption('--backup-name <name>', 'name of the backup to delete')
    .option('-a, --all-nodes', 'delete it on every node, not only this one', false)
    .option('--task-queue <queue>', 'task queue of the worker that runs it', 'medusa')
    .action(async (o: { backupName: string; allNodes: boolean; taskQueue: string }) => {
      await (await commands.purge()).deleteBackupCommand({ ...o, configFile: globals().configFile, overrides: overrides() });
    });

  const catalogue = () => ({ configFile: globals().configFile, overrides: overrides() });
  const outputOption = () => new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text');
  program.command('list-backups')
    .description('list the cluster backups of the catalogue, oldest first (only those that include this node unless --show-all)')
    .option('--show-all', 'list all backups in the bucket, not only those that include this node', false)
    .addOption(outputOption())
    .action(async (o: { showAll: boolean; output: string }) => { await (await commands.catalogue()).listBackupsCommand({ ...catalogue(), ...o }); });
  program.command('status')
    .description('show the status of a backup: nodes completed, incomplete and missing, files and size')
    .requiredOption('--backup-name <name>', 'backup name')
    .addOption(outputOption())
    .action(async (o: { backupName: string; output: string }) => { await (await commands.catalogue()).statusCommand({ ...catalogue(), ...o }); });
  program.command('verify')
    .description('verify the integrity of a backup: every node finished, every manifest object present with its size (and content, with md5 checks)')
    .requiredOption('--backup-name <name>', 'backup name')
    .option('--enable-md5-checks', 'also read every object and compare its MD5 with the manifest (in addition to size, which is used by default)', false)
    .action(async (o: { backupName: string; enableMd5Checks: boolean }) => { await (await commands.catalogue()).verifyCommand({ ...catalogue(), ...o }); });
  program.command('report-last-backup')
    .description('report the time since the last backup of this node, and the latest cluster backups')
    .action(async () => { await (await commands.catalogue()).reportLastBackupCommand(catalogue()); });
  program.command('get-last-complete-cluster-backup')
    .description('print the name of the latest complete cluster backup')
    .action(async () => { await (await commands.catalogue()).getLastCompleteCommand(catalogue()); });
  program.command('build-index')
    .description('rebuild the index of the catalogue from the node backups in the bucket (after a lost index, or for backups made without one)')
    .option('--noop', 'print what would be indexed; write nothing', false)
    .action(async (o: { noop: boolean }) => { await (await commands.catalogue()).buildIndexCommand({ ...catalogue(), ...o }); });
  program.command('fetch-tokenmap')
    .description('print the token map of a backup: each host, then its tokens')
    .requiredOption('--backup-name <name>', 'backup name')
    .action(async (o: { backupName: string }) => { await (await commands.catalogue()).fetchTokenmapCommand({ ...catalogue(), ...o }); });

  program.command('worker')
    .description('run a worker against the configured Temporal server (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, …)')
    .option('--task-queue <queue>', 'task queue to poll (default: medusa; with --node-local: [orchestration] node_task_queue for this node\'s fqdn, medusa-node-<fqdn>)')
    .option('--node-local', 'this worker runs on a Cassandra node and reaches it directly (no SSH); it runs that node\'s steps only', false)
    .addOption(new Option('--metrics-address <ip:port>', 'serve Prometheus metrics (the Temporal SDK\'s and the backups\') at http://<ip:port>/metrics').env('MEDUSA_METRICS_ADDRESS'))
    .action(async (o: { taskQueue?: string; nodeLocal: boolean; metricsAddress?: string }) => {
      await (await commands.worker()).runWorker({ taskQueue: o.taskQueue, configFile: globals().configFile, overrides: overrides(), nodeLocal: o.nodeLocal, metricsAddress: o.metricsAddress });
    });

  registerScheduleCommands(program.command('schedule'), overrides, configIfReadable);

  // Started over SSH by a central worker to run one step on this node (src/agent/): not for people.
  program.command(AGENT_SUBCOMMAND, { hidden: true })
    .description('serve one step of a central worker on this node: a request on stdin, progress and the result on stdout')
    .action(async () => {
      const { serveNodeAgent } = await commands.agent();
      process.exitCode = await serveNodeAgent({ input: process.stdin, output: process.stdout, version: VERSION });
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(expandShortFlags(argv));
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const e = err as Error & { code?: unknown; exitCode?: number };
    // commander has already printed help, version or its one-line usage error; usage errors exit 2, as in Medusa (click).
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) return e.exitCode === 0 ? 0 : 2;
    const text = e instanceof ExitError ? e.message.split('\n') : [e.message.split('\n')[0]];
    process.stderr.write(text.map((l) => `medusa: ${l}\n`).join(''));
    return e instanceof ExitError ? e.exitCode : 1;
  }
}

if (require.main === module) {
  main(process.argv).then((code) => process.exit(code), (err: Error) => {
    process.stderr.write(`medusa: ${err.message}\n`);
    process.exit(1);
  });
}
