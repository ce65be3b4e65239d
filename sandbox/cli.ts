/**
 * `npm run sandbox -- up|down|status|env`: the sandbox of real parts on loopback.
 *   up      install (cached) and start; a no-op when already running
 *   down    stop exactly the processes `up` started (--purge also deletes the sandbox directory)
 *   status  one line per process; exit 1 when anything is not running
 *   load    create the sample keyspaces and rows on the Cassandra nodes, flushed to SSTables
 *   env     shell exports for the running sandbox: eval "$(npm run -s sandbox -- env)"
 */
import { Command } from 'commander';
import { renderExports, sandboxEnv } from './env';
import { down, isUp, loadSampleData, status, up } from './index';
import { loadSettings } from './settings';

const program = new Command('sandbox')
  .description('Temporal dev server, S3-compatible server and SSH hosts on loopback, for tests and the quickstart')
  .option('--hosts <n>', 'number of SSH hosts (127.0.0.2 …); default $SANDBOX_HOSTS or 3')
  .showHelpAfterError();

function settings() {
  const hosts = program.opts<{ hosts?: string }>().hosts;
  return loadSettings(hosts ? { ...process.env, SANDBOX_HOSTS: hosts } : process.env);
}

program.command('up').description('install and start the sandbox').action(async () => {
  const s = settings();
  const started = await up(s, (line) => process.stderr.write(`sandbox: ${line}\n`));
  process.stderr.write(started ? `sandbox: up (${s.dir})\n` : `sandbox: already running (${s.dir})\n`);
  process.stdout.write(renderExports(sandboxEnv(s)));
});

program.command('down').description('stop the sandbox').option('--purge', 'also delete the sandbox directory')
  .action(async (opts: { purge?: boolean }) => {
    const stopped = await down(settings(), opts);
    process.stderr.write(stopped.length ? stopped.map((p) => `sandbox: stopped ${p}\n`).join('') : 'sandbox: nothing was running\n');
  });

program.command('status').description('show what is running').action(() => {
  const s = settings();
  const st = status(s);
  if (st.length === 0) {
    process.stdout.write('sandbox: not started\n');
    process.exitCode = 1;
    return;
  }
  for (const p of st) process.stdout.write(`${p.running ? 'running' : 'STOPPED'}  ${p.part}  pid ${p.pid}  log ${p.log}\n`);
  if (!isUp(s)) process.exitCode = 1;
});

program.command('load').description('create the sample keyspaces and rows, and flush them (once per sandbox)').action(async () => {
  const s = settings();
  if (!isUp(s)) throw new Error('the sandbox is not running: start it with `npm run sandbox -- up`');
  const loaded = await loadSampleData(s, (line) => process.stderr.write(`sandbox: ${line}\n`));
  process.stderr.write(loaded ? 'sandbox: sample data loaded\n' : 'sandbox: sample data was already loaded\n');
});

program.command('env').description('print shell exports for the running sandbox').action(() => {
  const s = settings();
  if (!isUp(s)) throw new Error('the sandbox is not running: start it with `npm run sandbox -- up`');
  process.stdout.write(renderExports(sandboxEnv(s)));
});

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`sandbox: ${err.message}\n`);
  process.exit(1);
});
