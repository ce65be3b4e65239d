/**
 * `npm run bench -- --orchestration N`: the orchestration alone. A `backup-cluster` of N simulated nodes runs
 * through a real Temporal dev server (the embedded one, in a state directory of its own) and the real workflows, on a
 * worker whose activities are stand-ins that touch no node and no storage and answer at once — the one place a
 * stand-in is right, because what is measured is what Temporal and the workflows cost per node. Prints the wall time
 * per node, the events of the largest history and of all of them, the workflows, and the CPU of the worker (this
 * process) and of the server. Asserts nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import type { ClusterNode } from '../../src/activities/cluster/discover';
import { mapLimit } from '../../src/shared/map-limit';
import { EmbeddedTemporal } from '../../src/temporal/embedded';
import { backupCluster } from '../../src/workflows';

type Used = 'discoverCluster' | 'clusterLockHolder' | 'checkBackupName' | 'writeBackupStart' | 'takeSnapshot' | 'staggerReady'
  | 'planBackup' | 'uploadFiles' | 'finishBackup' | 'clearSnapshot';

/** The activities a cluster backup calls, answering as a healthy cluster would, with no I/O. */
function standIns(nodes: ClusterNode[]): Pick<Activities, Used> {
  const files = 1000;
  const bytes = 10 * 1024 ** 3;
  return {
    discoverCluster: async (r) => ({ seed: nodes[0].fqdn, clusterName: 'Simulated', lockId: `medusa-lock/simulated/${r.prefix ?? ''}`, nodes }),
    clusterLockHolder: async () => undefined,
    checkBackupName: async () => undefined,
    writeBackupStart: async () => ({ dataDir: '/var/lib/cassandra/data', startedEpoch: Math.floor(Date.now() / 1000), releaseVersion: '5.0.6' }),
    takeSnapshot: async () => ({ reused: false, files }),
    staggerReady: async () => ({ ready: true, reason: '' }),
    planBackup: async (r) => ({ planPath: `${r.workDir}/plan.json`, files, bytes, uploadFiles: 10, uploadBytes: bytes / 100, keptFiles: files - 10, keptBytes: bytes - bytes / 100, hashedBytes: 0, hashSeconds: 0 }),
    uploadFiles: async () => ({ filesUploaded: 10, bytesUploaded: bytes / 100, filesAlreadyPresent: 0, bytesAlreadyPresent: 0 }),
    finishBackup: async (r) => ({ manifestKey: `${r.fqdn}/${r.backupName}/meta/manifest.json`, finishedEpoch: Math.floor(Date.now() / 1000), objects: files, bytes }),
    clearSnapshot: async () => ({ cleared: true }),
  };
}

/** CPU seconds (user + system) of a process, from /proc. */
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function runOrchestrationBench(n: number, parallelSnapshots: number, parallelUploads: number): Promise<string> {
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-orchestration-'));
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await EmbeddedTemporal.acquire(stateDir);
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  try {
    const nodes: ClusterNode[] = Array.from({ length: n }, (_, i) => ({
      fqdn: `node${String(i + 1).padStart(5, '0')}.simulated`, datacenter: `dc${(i % 3) + 1}`, rack: 'r1',
      firstToken: String(BigInt(i) * (2n ** 64n / BigInt(n)) - 2n ** 63n), isUp: true,
    }));
    const native = await NativeConnection.connect({ address: server.address });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const taskQueue = 'orchestration-bench';
    const worker = await Worker.create({
      connection: native, taskQueue, workflowsPath: require.resolve('../../src/workflows'), activities: standIns(nodes),
      maxConcurrentActivityTaskExecutions: 1000,
    });
    const running = worker.run();
    try {
      log(`backup-cluster of ${n} simulated nodes (--parallel-snapshots ${parallelSnapshots}, --parallel-uploads ${parallelUploads}) on ${server.address}`);
      const workflowId = `orchestration-${n}-${Date.now().toString(36)}`;
      const cpu0 = process.cpuUsage();
      const serverCpu0 = cpuOf(server.server.pid);
      const t0 = performance.now();
      const result = await client.workflow.execute(backupCluster, {
        taskQueue, workflowId, args: [{ backupName: 'simulated', mode: 'differential', parallelSnapshots, parallelUploads }],
      });
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const serverCpu = cpuOf(server.server.pid) - serverCpu0;
      const finished = result.nodes.filter((x) => x.phase === 'finished').length;
      // Every history of the run: the cluster's, each node's and the lock's.
      const ids = [workflowId, ...nodes.map((x) => `${workflowId}/${x.fqdn}`)];
      const lengths = await mapLimit(ids, 20, async (id) => Number((await client.workflow.getHandle(id).describe()).historyLength));
      const lock = await client.workflow.getHandle(`medusa-lock/simulated/`).describe().then((d) => Number(d.historyLength), () => 0);
      const largest = Math.max(...lengths, lock);
      const total = lengths.reduce((a, x) => a + x, 0) + lock;
      return [
        `orchestration: backup-cluster of ${n} simulated nodes (stand-in activities with no I/O), embedded Temporal dev server (SQLite), `
          + `${new Date().toISOString().slice(0, 10)}; ${ids.length + 1} workflows`,
        '',
        '| nodes | -ps | -pu | finished | wall s | ms per node | largest history (events) | total events | worker CPU s | server CPU s |',
        '|---|---|---|---|---|---|---|---|---|---|',
        `| ${n} | ${parallelSnapshots} | ${parallelUploads} | ${finished} | ${seconds.toFixed(1)} | ${((seconds * 1000) / n).toFixed(0)} `
          + `| ${largest}${largest === lengths[0] ? ' (the cluster\'s)' : ''} | ${total} | ${((cpu.user + cpu.system) / 1e6).toFixed(1)} | ${serverCpu.toFixed(1)} |`,
        '',
      ].join('\n');
    } finally {
      worker.shutdown();
      await running;
      await connection.close();
      await native.close();
    }
  } finally {
    await server.release();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
