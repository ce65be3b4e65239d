/**
 * `npm run bench`: this tool beside Python Medusa 0.31 and rclone, in one run, on the same data, the same S3 server
 * and the same concurrency, with no bandwidth cap. Prints one table (seconds, MiB/s, peak RSS of the process moving
 * the bytes, CPU seconds of everything it started) and the ratios ours ÷ peer; asserts nothing.
 *
 * On the running sandbox (`npm run sandbox -- up`), with Python Medusa and rclone installed into its cache
 * (`bash sandbox/install.sh medusa rclone`). It loads `--gib` GiB of random, uncompressed 1 MiB blobs onto one node
 * (kept for the next run), then each repetition runs, on that node as its users run them there:
 *   full upload        ours `medusa backup`, Python Medusa `medusa backup` (both into an empty prefix),
 *                      rclone `copy` of a snapshot of the same node
 *   differential       the same backup again, node unchanged (0 data bytes must be sent), then with --enable-md5-checks;
 *                      beside it `md5sum` of the same files, the floor for hashing
 *   download           `medusa download` of the full backup, rclone `copy` back of its copy
 *   fixed cost         a backup of a node holding only the sample data (a few MiB)
 *   backup-cluster     ours from this machine over SSH (the tool on each node moves the bytes): the central worker's
 *                      peak RSS and CPU; beside it Python Medusa's backup-cluster step for step: snapshots on every node
 *                      at once, then `medusa backup-node` (which finds the snapshot there) on each node in turn (-pu 1, the default
 *                      of both)
 *   restore-node       `medusa restore-node` of the full backup, in place, on that node (stop, replace, start), ours
 *                      and Python Medusa's, timed until every node sees it Up/Normal (ours waits for that, Medusa not)
 * Python Medusa's `verify` checks our backup-cluster backup afterwards (not timed).
 *
 *   npm run bench -- [--gib 1] [--transfers 4] [--repeat 2] [--host 127.0.0.2] [--small-host 127.0.0.3] [--keep]
 *   npm run bench -- --md5-plan --gib 4       planning with md5 checks: bounded steps, hashing speed, resumed after a kill
 *   npm run bench -- --bandwidth [MiB/s]     transfer_max_bandwidth on each backend (scripts/bench/bandwidth.ts)
 *   npm run bench -- --orchestration N [--parallel-snapshots 500] [--parallel-uploads 10]
 *                                           orchestration alone, N simulated nodes (scripts/bench/orchestration.ts)
 * --keep keeps the loaded keyspace (and what was uploaded) for the next run; without it both are removed, because the
 * tests share the sandbox and expect only its sample data.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dropBlobs, loadBlobs } from '../sandbox/data';
import { sandboxEnv } from '../sandbox/env';
import { isUp } from '../sandbox/index';
import { cqlClusterClient } from '../sandbox/parts/cassandra';
import { installNodeTool } from '../sandbox/parts/node-tool';
import { hostPath } from '../sandbox/parts/ssh-hosts';
import { CASSANDRA_MEDUSA_VERSION, loadSettings, pythonMedusaBin, RCLONE_DEB_VERSION, rcloneBin } from '../sandbox/settings';
import { HOST_PATH, hostPid, NODE_MEDUSA, NODES } from '../test/support/nodes';
import { writePythonMedusaIni } from '../test/support/python-medusa';
import { Measured, measure } from './bench/measure';

const { values: args } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    transfers: { type: 'string', default: '4' },
    repeat: { type: 'string', default: '2' },
    host: { type: 'string', default: '127.0.0.2' },
    'small-host': { type: 'string', default: '127.0.0.3' },
    keep: { type: 'boolean', default: false },
    bandwidth: { type: 'string' },
    'md5-plan': { type: 'boolean', default: false },
    orchestration: { type: 'string' },
    'parallel-snapshots': { type: 'string', default: '500' },
    'parallel-uploads': { type: 'string', default: '10' },
  },
});
const GIB = Number(args.gib);
const TRANSFERS = Number(args.transfers);
const REPEAT = Number(args.repeat);
const HOST = args.host!;
const SMALL = args['small-host']!;
const KEYSPACE = 'bench';
const MiB = 1024 * 1024;

function fail(line: string): never {
  process.stderr.write(`bench: ${line}\n`);
  process.exit(1);
}

if (!(GIB > 0) || !Number.isInteger(TRANSFERS) || TRANSFERS < 1 || !Number.isInteger(REPEAT) || REPEAT < 1) {
  fail('--gib must be a positive number, --transfers and --repeat positive whole numbers');
}
const s = loadSettings();
// Orchestration alone needs no sandbox: it starts its own embedded Temporal server.
if (args.orchestration === undefined && !isUp(s)) fail('the sandbox is not running: start it with `npm run sandbox -- up`');
const env = isUp(s) ? sandboxEnv(s) : ({} as ReturnType<typeof sandboxEnv>);
Object.assign(process.env, env);
const bucketDir = () => join(env.SANDBOX_S3_DATA_DIR, env.SANDBOX_S3_BUCKET);
const run = `b${Date.now().toString(36)}`;
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** argv run inside a sandbox host's namespaces, as a program on that machine (nsenter execs: the pid is the program's). */
const onHost = (host: string, argv: string[]) => ['nsenter', '--target', String(hostPid(host)), '--mount', '--uts', '--', ...argv];
const states = mkdtempSync(join(tmpdir(), 'bench-state-'));

/**
 * No bandwidth cap: Medusa's default `transfer_max_bandwidth` is 50MB/s, which boto3 applies to each file in
 * flight and we to the whole transfer; either way it would measure the cap, not the tools.
 */
const NO_CAP = 'transfer_max_bandwidth = 100000MB/s';

/** The same medusa.ini for ours and Python Medusa (Medusa's keys), on the S3 server, with --transfers. */
function iniFile(prefix: string, fqdn: string): string {
  const file = writePythonMedusaIni({ storage: 's3', prefix, fqdn });
  writeFileSync(file, readFileSync(file, 'utf8')
    .replace(/^concurrent_transfers = \d+$/m, `concurrent_transfers = ${TRANSFERS}\n${NO_CAP}`)
    // Ours checks host keys (Medusa does not): the sandbox's known_hosts, for backup-cluster over SSH.
    .replace(/^\[ssh\]$/m, `[ssh]\nknown_hosts = ${env.SANDBOX_SSH_KNOWN_HOSTS}`)
    // How restore-node stops and starts a sandbox node, and no sudo (we are root): the sandbox's own medusa.ini says the same.
    .replace(/^\[cassandra\]$/m, '[cassandra]\nstop_cmd = /opt/cassandra/bin/cassandra-stop\nstart_cmd = /opt/cassandra/bin/cassandra-start')
    .replace(/^\[storage\]$/m, '[storage]\nuse_sudo_for_restore = False'));
  return file;
}

async function ours(host: string, iniPath: string, argv: string[]): Promise<Measured> {
  return measure(onHost(host, ['env', '-u', 'TEMPORAL_ADDRESS', '-u', 'TEMPORAL_NAMESPACE', `MEDUSA_STATE_DIR=${join(states, host)}`,
    NODE_MEDUSA, '--config-file', iniPath, ...argv]), { PATH: HOST_PATH }, tmpdir());
}
async function medusa(host: string, iniPath: string, argv: string[]): Promise<Measured> {
  return measure(onHost(host, [pythonMedusaBin(s), '--config-file', iniPath, ...argv]), { PATH: HOST_PATH }, tmpdir());
}
/** Programs one after another (each started when the one before has exited), as one case: total wall time, the largest peak RSS, the CPU of all. */
async function inTurn(runs: (() => Promise<Measured>)[]): Promise<Measured> {
  const t0 = process.hrtime.bigint();
  const all: Measured[] = [];
  for (const r of runs) {
    const m = await r();
    all.push(m);
    if (m.code !== 0) break;
  }
  const failed = all.find((r) => r.code !== 0);
  return {
    code: failed?.code ?? 0, stdout: all.map((r) => r.stdout).join(''), stderr: (failed ?? all[0]).stderr,
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    peakRssMiB: Math.max(...all.map((r) => r.peakRssMiB)), cpuSeconds: all.reduce((a, r) => a + r.cpuSeconds, 0),
  };
}
const rcloneEnv = {
  RCLONE_CONFIG: '/dev/null',
  // A CA bundle set for the machine's HTTPS proxy makes rclone's S3 client refuse its own transport; the S3 server is plain HTTP.
  AWS_CA_BUNDLE: '',
  RCLONE_CONFIG_BENCH_TYPE: 's3',
  RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
  RCLONE_CONFIG_BENCH_ENDPOINT: env.SANDBOX_S3_ENDPOINT,
  RCLONE_CONFIG_BENCH_REGION: env.SANDBOX_S3_REGION,
  RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: env.SANDBOX_S3_ACCESS_KEY_ID,
  RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: env.SANDBOX_S3_SECRET_ACCESS_KEY,
  RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
};
/** rclone as configured to match Medusa's transfer settings: 4 files at once, 50 MiB parts above 20 MiB, 4 parts per file. */
const rcloneFlags = ['--transfers', String(TRANSFERS), '--s3-upload-cutoff', '20Mi', '--s3-chunk-size', '50Mi', '--s3-upload-concurrency', '4'];
async function rclone(host: string, argv: string[]): Promise<Measured> {
  return measure(onHost(host, [rcloneBin(s), ...argv, ...rcloneFlags]), { PATH: HOST_PATH, ...rcloneEnv }, tmpdir());
}
async function sh(host: string, command: string): Promise<Measured> {
  const r = await measure(onHost(host, ['sh', '-c', command]), { PATH: HOST_PATH });
  if (r.code !== 0) fail(`${host}: ${command}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return r;
}
/** The run, or an error that ends the benchmark after its cleanup (snapshots cleared, data dropped). */
function ok(what: string, r: Measured): Measured {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  return r;
}

/** Bytes of files under `<bucket>/<key prefix>` written since `since` (ms): what a case sent. */
function bytesWrittenSince(prefix: string, since: number): number {
  const root = join(bucketDir(), prefix);
  let total = 0;
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        if (st.mtimeMs >= since) total += st.size;
      }
    }
  };
  walk(root);
  return total;
}

/** Bytes of the snapshot `tag` of `host`, as the tools read them. */
function snapshotBytes(host: string, tag: string): number {
  const data = hostPath(s, host, '/var/lib/cassandra/data');
  let total = 0;
  for (const ks of readdirSync(data)) {
    for (const table of readdirSync(join(data, ks))) {
      const dir = join(data, ks, table, 'snapshots', tag);
      if (!existsSync(dir)) continue;
      const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(join(d, e.name));
          else total += statSync(join(d, e.name)).size;
        }
      };
      walk(dir);
    }
  }
  return total;
}

interface Row { case: string; tool: string; runs: Measured[]; bytes: number; note?: string }
const rows: Row[] = [];
function record(c: string, tool: string, r: Measured, bytes: number, note?: string) {
  let row = rows.find((x) => x.case === c && x.tool === tool);
  if (!row) rows.push(row = { case: c, tool, runs: [], bytes, note });
  row.runs.push(r);
  if (note) row.note = note;
  log(`${c} · ${tool}: ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, CPU ${r.cpuSeconds.toFixed(1)} s`);
}
/** Waits until every node sees `host` Up/Normal (after a restore restarted it). */
async function nodeUp(host: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const views = await Promise.all(NODES.map((h) => measure(onHost(h, ['nodetool', 'status']), { PATH: HOST_PATH })));
    if (views.every((v) => v.code === 0 && new RegExp(`^UN\\s+${host.replace(/\./g, '\\.')}\\s`, 'm').test(v.stdout))) return;
    if (Date.now() > deadline) fail(`${host} is not Up/Normal 5 minutes after its restore: ${views.map((v) => v.stdout || v.stderr).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
const median = (xs: number[]) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};

async function ensureData(): Promise<void> {
  const marker = join(s.dir, `bench-data-${HOST}-${GIB}gib`);
  if (existsSync(marker)) return;
  const client = cqlClusterClient(s);
  try {
    log(`loading ${GIB} GiB of uncompressed blobs onto ${HOST} (keyspace ${KEYSPACE}; once, kept for later runs)`);
    for (const f of readdirSync(s.dir).filter((n) => n.startsWith('bench-data-'))) rmSync(join(s.dir, f));
    await dropBlobs(client, s, KEYSPACE);
    await loadBlobs(client, s, KEYSPACE, Math.round(GIB * 1024), { node: HOST });
    writeFileSync(marker, `${new Date().toISOString()}\n`);
  } finally {
    await client.shutdown();
  }
}

/** The tests share the sandbox and expect its sample data only: the bench keyspace goes (--keep keeps it for the next run). */
async function dropBenchData(): Promise<void> {
  const client = cqlClusterClient(s);
  try {
    await dropBlobs(client, s, KEYSPACE);
  } finally {
    await client.shutdown();
  }
  for (const f of readdirSync(s.dir).filter((n) => n.startsWith('bench-data-'))) rmSync(join(s.dir, f));
}

function table(): string {
  const out: string[] = [];
  out.push('| case | tool | seconds | MiB/s | peak RSS MiB | CPU s | ours ÷ this |');
  out.push('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const sec = median(r.runs.map((x) => x.seconds));
    const mine = rows.find((x) => x.case === r.case && x.tool.startsWith('ours'));
    // md5sum hashes only (a floor for the hashing, not a backup to compare a backup with): no ratio.
    const ratio = mine && !r.tool.startsWith('ours') && !r.tool.startsWith('md5sum') ? (median(mine.runs.map((x) => x.seconds)) / sec).toFixed(2) : '';
    out.push(`| ${r.case} | ${r.tool}${r.note ? ` (${r.note})` : ''} | ${sec.toFixed(1)} | ${r.bytes ? (r.bytes / MiB / sec).toFixed(0) : ''} `
      + `| ${median(r.runs.map((x) => x.peakRssMiB)).toFixed(0)} | ${median(r.runs.map((x) => x.cpuSeconds)).toFixed(1)} | ${ratio} |`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(pythonMedusaBin(s))) fail(`Python Medusa ${CASSANDRA_MEDUSA_VERSION} is not installed: run \`bash sandbox/install.sh medusa\``);
  if (!existsSync(rcloneBin(s))) fail(`rclone ${RCLONE_DEB_VERSION} is not installed: run \`bash sandbox/install.sh rclone\``);
  log('the node tool on every host is this checkout\'s (built once per change of the code)');
  await installNodeTool(s, log);
  await ensureData();
  const tag = `bench-rclone-${run}`;
  const smallTag = `bench-rclone-small-${run}`;
  const dest = '/var/lib/cassandra/bench-download';
  const prefixes: string[] = [];
  try {
    await sh(HOST, `nodetool snapshot -t ${tag}`);
    await sh(SMALL, `nodetool snapshot -t ${smallTag}`);
    const size = snapshotBytes(HOST, tag);
    const smallSize = snapshotBytes(SMALL, smallTag);
    log(`node ${HOST}: ${(size / MiB).toFixed(0)} MiB in its snapshot; ${SMALL}: ${(smallSize / MiB).toFixed(1)} MiB`);
    const snapshotFiles = `find /var/lib/cassandra/data -path '*/snapshots/${tag}/*' -type f -print0`;
    let verifyIni = '';
    let verifyName = '';

    for (let rep = 1; rep <= REPEAT; rep++) {
      const p = { ours: `${run}-ours-${rep}`, py: `${run}-py-${rep}`, rc: `${run}-rclone-${rep}`, oursSmall: `${run}-ours-small-${rep}`, pySmall: `${run}-py-small-${rep}`, rcSmall: `${run}-rclone-small-${rep}`, cluster: `${run}-cluster-${rep}` };
      prefixes.push(...Object.values(p));
      const oIni = iniFile(p.ours, HOST);
      const pIni = iniFile(p.py, HOST);

      record('full upload', 'ours', ok('our backup', await ours(HOST, oIni, ['backup', '--backup-name', 'full', '--mode', 'differential'])), size);
      record('full upload', 'Python Medusa', ok('Python Medusa\'s backup', await medusa(HOST, pIni, ['backup', '--backup-name', 'full', '--mode', 'differential'])), size);
      record('full upload', 'rclone', ok('rclone copy', await rclone(HOST, ['copy', '/var/lib/cassandra/data', `bench:${env.SANDBOX_S3_BUCKET}/${p.rc}`, '--include', `/*/*/snapshots/${tag}/**`])), size);

      for (const [name, extra, c] of [['diff', [], 'differential, unchanged'], ['md5', ['--enable-md5-checks'], 'differential, unchanged, md5 checks']] as const) {
        for (const [tool, fn, prefix, file] of [['ours', ours, p.ours, oIni], ['Python Medusa', medusa, p.py, pIni]] as const) {
          const since = Date.now() - 1000;
          const r = ok(`${tool} ${name}`, await fn(HOST, file, ['backup', '--backup-name', name, '--mode', 'differential', ...extra]));
          const sent = bytesWrittenSince(`${prefix}/${HOST}/data`, since);
          record(c, tool, r, 0, `${(sent / MiB).toFixed(1)} MiB of data sent`);
        }
      }
      record('differential, unchanged, md5 checks', 'md5sum of the same files', await sh(HOST, `${snapshotFiles} | xargs -0 md5sum >/dev/null`), size);

      for (const [tool, fn, file] of [['ours', ours, oIni], ['Python Medusa', medusa, pIni]] as const) {
        await sh(HOST, `rm -rf ${dest} && mkdir -p ${dest}`);
        record('download', tool, ok(`${tool} download`, await fn(HOST, file, ['download', '--backup-name', 'full', '--download-destination', dest])), size);
      }
      await sh(HOST, `rm -rf ${dest} && mkdir -p ${dest}`);
      record('download', 'rclone', ok('rclone copy back', await rclone(HOST, ['copy', `bench:${env.SANDBOX_S3_BUCKET}/${p.rc}`, dest])), size);
      await sh(HOST, `rm -rf ${dest}`);

      record('fixed cost (small node)', 'ours', ok('our small backup', await ours(SMALL, iniFile(p.oursSmall, SMALL), ['backup', '--backup-name', 'small'])), smallSize);
      record('fixed cost (small node)', 'Python Medusa', ok('Python Medusa small backup', await medusa(SMALL, iniFile(p.pySmall, SMALL), ['backup', '--backup-name', 'small'])), smallSize);
      record('fixed cost (small node)', 'rclone', ok('rclone small copy', await rclone(SMALL, ['copy', '/var/lib/cassandra/data', `bench:${env.SANDBOX_S3_BUCKET}/${p.rcSmall}`, '--include', `/*/*/snapshots/${smallTag}/**`])), smallSize);

      // The cluster from this machine: the central worker (this command, embedded) drives the tool on each node over SSH.
      const cIni = iniFile(p.cluster, HOST);
      const cluster = ok('our backup-cluster', await measure([process.execPath, join(__dirname, '..', 'bin', 'medusa.js'), '--config-file', cIni,
        'backup-cluster', '--backup-name', 'cluster', '--mode', 'differential'], { TEMPORAL_ADDRESS: '', MEDUSA_STATE_DIR: join(states, 'central') }, tmpdir()));
      record('backup-cluster, 3 nodes, -pu 1', 'ours (central worker)', cluster, size + 2 * smallSize);
      // Medusa's verify is of a cluster backup: every node of the token map must be in it.
      if (rep === 1) { verifyIni = cIni; verifyName = 'cluster'; }
      const pyCluster = `${run}-py-cluster-${rep}`;
      prefixes.push(pyCluster);
      const hosts = NODES;
      // Python Medusa's backup-cluster, step for step (its pssh and medusa-wrapper aside: the sandbox's SSH sessions have
      // no PATH to it): `nodetool snapshot -t medusa-<name>` on every node at once, then on each node in turn (-pu 1,
      // its default and ours) `medusa backup-node`, which finds that snapshot, uploads it and clears it.
      const pyClusterRun = await inTurn([
        async () => {
          const t0 = process.hrtime.bigint();
          const snaps = await Promise.all(hosts.map((host) => measure(onHost(host, ['nodetool', 'snapshot', '-t', 'medusa-cluster']), { PATH: HOST_PATH })));
          return { ...snaps.find((r) => r.code !== 0) ?? snaps[0], seconds: Number(process.hrtime.bigint() - t0) / 1e9, peakRssMiB: 0, cpuSeconds: 0 };
        },
        ...hosts.map((host) => () => medusa(host, iniFile(pyCluster, host), ['backup-node', '--backup-name', 'cluster', '--mode', 'differential'])),
      ]);
      record('backup-cluster, 3 nodes, -pu 1', 'Python Medusa (its steps: snapshots at once, then each node in turn)', ok('Python Medusa\'s cluster backup', pyClusterRun), size + 2 * smallSize);

      // In place, from the full backup of the same node: stop, replace the files, start. Timed until every node sees
      // it Up/Normal: ours waits for that itself, Python Medusa returns once its start_cmd has.
      const restoreTemp = '/var/lib/cassandra/bench-restore';
      for (const [tool, fn, file] of [['ours', ours, oIni], ['Python Medusa', medusa, pIni]] as const) {
        await sh(HOST, `rm -rf ${restoreTemp} && mkdir -p ${restoreTemp}`);
        const t0 = process.hrtime.bigint();
        const restored = ok(`${tool} restore-node`, await fn(HOST, file, ['restore-node', '--backup-name', 'full', '--temp-dir', restoreTemp]));
        await nodeUp(HOST);
        record('restore-node (in place), until the node is Up/Normal', tool, { ...restored, seconds: Number(process.hrtime.bigint() - t0) / 1e9 }, size);
      }
      await sh(HOST, `rm -rf ${restoreTemp}`);
    }

    const verify = await measure([pythonMedusaBin(s), '--config-file', verifyIni, 'verify', '--backup-name', verifyName], {}, tmpdir());
    log(`Python Medusa's verify of our backup-cluster backup: ${verify.code === 0 ? 'passed' : `FAILED (exit ${verify.code}): ${verify.stdout.slice(-500)}${verify.stderr.slice(-500)}`}`);

    process.stdout.write(`\n${HOST}: ${(size / MiB).toFixed(0)} MiB in the snapshot; --transfers ${TRANSFERS}; medians of ${REPEAT}; `
      + `${new Date().toISOString().slice(0, 10)}; Python Medusa ${CASSANDRA_MEDUSA_VERSION}, rclone ${RCLONE_DEB_VERSION}\n\n${table()}\n`);
  } finally {
    await sh(HOST, `nodetool clearsnapshot -t ${tag}; rm -rf ${dest}`).catch(() => undefined);
    await sh(SMALL, `nodetool clearsnapshot -t ${smallTag}`).catch(() => undefined);
    if (!args.keep) {
      for (const p of prefixes) rmSync(join(bucketDir(), p), { recursive: true, force: true });
      await dropBenchData();
    }
    rmSync(states, { recursive: true, force: true });
  }
}

/**
 * `--md5-plan`: planning a differential backup with md5 checks, on `--gib` GiB (4 or more to mean something), as a
 * cluster backup runs it: the central worker (this process, on the sandbox's Temporal server) has the node's tool hash
 * the files where they are. Its short steps are bounded at 5 s, to show that planning is not: it heartbeats instead.
 * Then the same plan with the node-side process killed (SIGKILL) once it has checkpointed: the retry takes the verdicts
 * reached so far and hashes only the rest. Beside it `md5sum` of the same files.
 */
async function md5Plan(): Promise<void> {
  const { startHarness, sandboxConfig } = await import('../test/support/backup-harness');
  const { backupNode } = await import('../src/workflows');
  await installNodeTool(s, log);
  await ensureData();
  const prefix = `${run}-md5plan`;
  const h = await startHarness();
  const tag = `bench-md5-${run}`;
  try {
    const config = sandboxConfig('s3', { prefix });
    Object.assign(config.storage, { concurrentTransfers: TRANSFERS, transferMaxBandwidth: 0 });
    const { taskQueue } = await h.worker(config);
    const backup = (name: string, extra: Record<string, unknown> = {}) => h.client.workflow.start(backupNode, {
      taskQueue, workflowId: `${prefix}/${name}`, args: [{ backupName: name, fqdn: HOST, prefix, mode: 'differential', stepTimeoutSeconds: 5, ...extra }],
    });
    log(`md5 plan: a first backup of ${HOST} (${GIB} GiB) fills the pool`);
    await (await backup('base')).result();
    const planOf = async (handle: Awaited<ReturnType<typeof backup>>) => {
      const events = (await handle.fetchHistory()).events!;
      const at = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) + (e.eventTime!.nanos ?? 0) / 1e9;
      const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'planBackup')!;
      const id = Number(scheduled.eventId);
      const done = events.find((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) === id)!;
      const started = events.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? -1) === id)!;
      return { seconds: at(done) - at(scheduled), attempts: started.activityTaskStartedEventAttributes!.attempt ?? 1 };
    };

    log('md5 plan: the same node, unchanged, with md5 checks');
    const checked = await backup('md5', { enableMd5Checks: true });
    const r1 = await checked.result();
    const p1 = await planOf(checked);

    log('md5 plan: again, the node-side process killed once it has checkpointed');
    const killed = await backup('md5kill', { enableMd5Checks: true });
    for (const deadline = Date.now() + 300_000; Date.now() < deadline;) {
      const found = await measure(onHost(HOST, ['sh', '-c', 'ls /tmp/medusa-temporal/*/md5-checked.json 2>/dev/null']), { PATH: HOST_PATH });
      if (found.code === 0 && found.stdout.trim()) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await sh(HOST, "pkill -KILL -f '[n]ode-agent' || true");
    const r2 = await killed.result();
    const p2 = await planOf(killed);

    await sh(HOST, `nodetool snapshot -t ${tag} >/dev/null`);
    const files = `find /var/lib/cassandra/data -path '*/snapshots/${tag}/*' -type f -print0`;
    const size = snapshotBytes(HOST, tag);
    const md5sum = await sh(HOST, `${files} | xargs -0 md5sum >/dev/null`);
    const mibps = (bytes: number, sec: number) => (sec > 0 ? (bytes / MiB / sec).toFixed(0) : '');
    process.stdout.write(`\nmd5-checked plan of ${HOST}: ${(size / MiB).toFixed(0)} MiB in the snapshot; short steps bounded at 5 s; ${new Date().toISOString().slice(0, 10)}\n\n`
      + '| run | plan s | attempts | hashed by the last attempt MiB | hashing MiB/s | data sent MiB |\n|---|---|---|---|---|---|\n'
      + `| md5 checks | ${p1.seconds.toFixed(1)} | ${p1.attempts} | ${(r1.hashedBytes / MiB).toFixed(0)} | ${mibps(r1.hashedBytes, r1.hashSeconds)} | ${(r1.uploadedBytes / MiB).toFixed(1)} |\n`
      + `| md5 checks, node-side process killed mid-hash | ${p2.seconds.toFixed(1)} | ${p2.attempts} | ${(r2.hashedBytes / MiB).toFixed(0)} | ${mibps(r2.hashedBytes, r2.hashSeconds)} | ${(r2.uploadedBytes / MiB).toFixed(1)} |\n`
      + `| md5sum of the same files | ${md5sum.seconds.toFixed(1)} | | ${(size / MiB).toFixed(0)} | ${mibps(size, md5sum.seconds)} | |\n`
      + `\nhashing ÷ md5sum throughput: ${((r1.hashedBytes / r1.hashSeconds) / (size / md5sum.seconds)).toFixed(2)}\n`);
  } finally {
    await sh(HOST, `nodetool clearsnapshot -t ${tag} >/dev/null`).catch(() => undefined);
    await h.close();
    rmSync(join(bucketDir(), prefix), { recursive: true, force: true });
    if (!args.keep) await dropBenchData();
  }
}

async function dispatch(): Promise<void> {
  if (args['md5-plan']) {
    await md5Plan();
  } else if (args.orchestration !== undefined) {
    const [n, ps, pu] = [args.orchestration, args['parallel-snapshots'], args['parallel-uploads']].map(Number);
    if (![n, ps, pu].every((x) => Number.isInteger(x) && x >= 1)) fail('--orchestration, --parallel-snapshots and --parallel-uploads take positive whole numbers');
    process.stdout.write(await (await import('./bench/orchestration')).runOrchestrationBench(n, ps, pu));
  } else if (args.bandwidth !== undefined) {
    const mib = Number(args.bandwidth || '8');
    if (!(mib > 0)) fail('--bandwidth takes a rate in MiB/s (default 8)');
    process.stdout.write(await (await import('./bench/bandwidth')).runBandwidthBench(mib, TRANSFERS));
  } else {
    await main();
  }
}

dispatch().catch((err: Error) => fail(err.message));
