/**
 * Cassandra 5.0 nodes from the Maven Central jars, one per SSH host, on Java 17.
 *
 * Node i runs inside host i's mount and UTS namespaces (nsenter into its sshd), so what a command
 * over SSH sees is what the node uses, at the usual paths:
 *   /etc/cassandra/cassandra.yaml   the node's configuration (Medusa reads it)
 *   /var/lib/cassandra/data         data_file_directories (and commitlog/, saved_caches/, hints/)
 *   /var/log/cassandra/system.log   the node's log
 *   /opt/cassandra/bin/nodetool     on the PATH of SSH sessions, talking to this node's JMX port
 *   /opt/cassandra/lib              the jars (a link into the install cache)
 *
 * The ring is fixed like ccm's: one balanced Murmur3 token per node, every node a seed,
 * auto_bootstrap off, so the nodes start concurrently without bootstrap streaming. JMX of a local
 * port always binds 127.0.0.1, hence one JMX port per node: 7200, 7300, … for 127.0.0.2, .3, ….
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Client, ExecutionProfile, policies, types } from 'cassandra-driver';
import { SandboxError, startDaemon, Started, waitReady } from '../proc';
import { cassandraLib, hostAddress, installScript, mainRing, Ring, ringHosts, SandboxSettings } from '../settings';
import { hostPath } from './ssh-hosts';

export const NATIVE_PORT = 9042;
export const STORAGE_PORT = 7000;
export const DATACENTER = 'datacenter1';
const HOME = '/opt/cassandra';

export function jmxPort(i: number): number {
  return 7200 + i * 100;
}

/** Balanced Murmur3 tokens, one per node, as ccm computes them: i·(2^64/n) − 2^63. */
export function balancedTokens(n: number): bigint[] {
  const step = 2n ** 64n / BigInt(n);
  return Array.from({ length: n }, (_, i) => BigInt(i) * step - 2n ** 63n);
}

/** The Java 11/17 binary Cassandra 5.0 needs (install.sh knows where to look). */
export function javaBin(): string {
  const java = execFileSync('bash', [installScript, 'java'], { encoding: 'utf8' }).trim();
  if (!java) throw new SandboxError('Cassandra 5.0 needs Java 11 or 17 and none was found: apt-get install openjdk-17-jdk-headless (or set SANDBOX_JAVA)');
  return java;
}

// Java 17 module flags Cassandra and its tools need (conf/jvm17-server.options, jvm17-clients.options).
const JPMS = [
  '--add-exports java.base/jdk.internal.misc=ALL-UNNAMED',
  '--add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED',
  '--add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED',
  '--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED',
  '--add-exports java.rmi/sun.rmi.server=ALL-UNNAMED',
  '--add-exports java.sql/java.sql=ALL-UNNAMED',
  '--add-exports java.base/java.lang.ref=ALL-UNNAMED',
  '--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED',
  '--add-opens java.base/java.lang.module=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.loader=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.reflect=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.math=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.module=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED',
  '--add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED',
  '--add-opens java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens java.base/java.io=ALL-UNNAMED',
  '--add-opens java.base/java.lang.reflect=ALL-UNNAMED',
  '--add-opens java.base/java.lang=ALL-UNNAMED',
  '--add-opens java.base/java.util=ALL-UNNAMED',
  '--add-opens java.base/java.nio=ALL-UNNAMED',
];

function serverOptions(s: SandboxSettings, i: number): string[] {
  return [
    `-Xms${s.cassandraHeap}`, `-Xmx${s.cassandraHeap}`, '-Xss256k',
    '-XX:+UseG1GC', '-XX:+ParallelRefProcEnabled', '-XX:MaxGCPauseMillis=300', '-XX:+ExitOnOutOfMemoryError',
    '-XX:+UseThreadPriorities', '-XX:+PerfDisableSharedMem',
    '-Djava.net.preferIPv4Stack=true', '-Dchronicle.analytics.disable=true', '-Djdk.attach.allowAttachSelf=true',
    ...JPMS,
    '-Dio.netty.tryReflectionSetAccessible=true', '-Dio.netty.allocator.useCacheForAllThreads=true', '-Dio.netty.allocator.maxOrder=11',
    `-javaagent:${HOME}/lib/jamm-0.4.0.jar`,
    `-Dcassandra.jmx.local.port=${jmxPort(i)}`, '-Dcom.sun.management.jmxremote.authenticate=false',
    '-Dcassandra.config=file:///etc/cassandra/cassandra.yaml', '-Dcassandra.storagedir=/var/lib/cassandra',
    '-Dcassandra.logdir=/var/log/cassandra', '-Dlogback.configurationFile=/etc/cassandra/logback.xml',
    '-Dcassandra-foreground=yes', '-Dcassandra.skip_wait_for_gossip_to_settle=0', '-Dcassandra.ring_delay_ms=10000',
    '-Dcassandra.unsafesystem=true',
    '-cp', `${HOME}/lib/*`,
  ];
}

function cassandraYaml(ring: Ring, i: number, token: bigint): string {
  const address = hostAddress(i);
  const seeds = ringHosts(ring).map((j) => `${hostAddress(j)}:${STORAGE_PORT}`).join(',');
  return `# cassandra.yaml of sandbox node ${address} (written by the sandbox; see sandbox/parts/cassandra.ts)
cluster_name: '${ring.clusterName}'
num_tokens: 1
initial_token: '${token}'
auto_bootstrap: false
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
listen_address: ${address}
rpc_address: ${address}
storage_port: ${STORAGE_PORT}
native_transport_port: ${NATIVE_PORT}
start_native_transport: true
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "${seeds}"
data_file_directories:
  - /var/lib/cassandra/data
commitlog_directory: /var/lib/cassandra/commitlog
saved_caches_directory: /var/lib/cassandra/saved_caches
hints_directory: /var/lib/cassandra/hints
cdc_raw_directory: /var/lib/cassandra/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_segment_size: 8MiB
disk_access_mode: standard
auto_snapshot: true
incremental_backups: false
concurrent_compactors: 1
`;
}

const LOGBACK = `<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>/var/log/cassandra/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
`;

// Tools print WARN and above on stderr only, so nodetool's stdout stays clean for parsing.
const LOGBACK_TOOLS = `<configuration scan="false">
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <encoder><pattern>%-5level %date{"HH:mm:ss,SSS"} %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDERR"/></root>
</configuration>
`;

function nodetoolScript(java: string, i: number): string {
  return `#!/bin/sh
# nodetool of this sandbox node: Cassandra's NodeTool from the jars, on this node's JMX port (${jmxPort(i)}).
# Leading -D arguments are JVM options, as with Cassandra's own bin/nodetool (Medusa passes one).
jvm=""
while [ $# -gt 0 ]; do
  case "$1" in -D*) jvm="$jvm $1"; shift ;; *) break ;; esac
done
exec '${java}' @/etc/cassandra/jvm-clients.options $jvm -Dlogback.configurationFile=/etc/cassandra/logback-tools.xml \\
  -Dcassandra.storagedir=/var/lib/cassandra -cp '${HOME}/lib/*' org.apache.cassandra.tools.NodeTool -p ${jmxPort(i)} "$@"
`;
}

/** Where each node's pid is kept, as Cassandra's own bin/cassandra -p does (a path private to its host). */
export const PID_FILE = '/var/lib/cassandra/cassandra.pid';

/**
 * Medusa's [cassandra] start_cmd of a sandbox node: starts the node in the background inside the
 * host it is run on (over SSH, or by a node-local worker) and records its pid; a no-op when it runs.
 */
function startScript(java: string): string {
  return `#!/bin/sh
# start_cmd of this sandbox node (medusa.ini): starts Cassandra in the background, pid in ${PID_FILE}.
pid=$(cat ${PID_FILE} 2>/dev/null)
if [ -n "$pid" ] && grep -q CassandraDaemon /proc/$pid/cmdline 2>/dev/null; then
  echo "Cassandra is already running (pid $pid)"; exit 0
fi
cd /var/lib/cassandra
setsid '${java}' @/etc/cassandra/jvm-server.options org.apache.cassandra.service.CassandraDaemon \
  >>/var/log/cassandra/stdout.log 2>&1 </dev/null &
echo $! > ${PID_FILE}
echo "Cassandra started (pid $!)"
`;
}

/** Medusa's [cassandra] stop_cmd of a sandbox node: SIGTERM (Cassandra drains), SIGKILL after 120 s, returns once it is gone. */
const STOP_SCRIPT = `#!/bin/sh
# stop_cmd of this sandbox node (medusa.ini): stops the Cassandra whose pid is in ${PID_FILE}.
pid=$(cat ${PID_FILE} 2>/dev/null)
alive() { grep -q CassandraDaemon /proc/$pid/cmdline 2>/dev/null; }
if [ -z "$pid" ] || ! alive; then rm -f ${PID_FILE}; echo "Cassandra is not running"; exit 0; fi
kill $pid
i=0
while alive; do
  i=$((i + 1))
  if [ $i -eq 1200 ]; then kill -9 $pid; fi
  sleep 0.1
done
rm -f ${PID_FILE}
echo "Cassandra stopped (pid $pid)"
`;

/** Writes each node's configuration, nodetool, start/stop commands and directories into its host's private file system. */
export function prepareCassandra(s: SandboxSettings, java: string, ring: Ring = mainRing(s)): void {
  const lib = cassandraLib(s);
  if (!existsSync(`${lib}/jamm-0.4.0.jar`)) throw new SandboxError(`Cassandra jars are missing in ${lib}: run sandbox/install.sh cassandra`);
  const tokens = balancedTokens(ring.count).map((t) => t + ring.tokenOffset);
  for (const i of ringHosts(ring)) {
    const at = (p: string) => hostPath(s, hostAddress(i), p);
    for (const d of ['/var/lib/cassandra/data', '/var/lib/cassandra/commitlog', '/var/log/cassandra', `${HOME}/bin`]) mkdirSync(at(d), { recursive: true });
    writeFileSync(at('/etc/cassandra/cassandra.yaml'), cassandraYaml(ring, i, tokens[i - ring.first]));
    writeFileSync(at('/etc/cassandra/logback.xml'), LOGBACK);
    writeFileSync(at('/etc/cassandra/logback-tools.xml'), LOGBACK_TOOLS);
    writeFileSync(at('/etc/cassandra/jvm-server.options'), serverOptions(s, i).join('\n') + '\n');
    writeFileSync(at('/etc/cassandra/jvm-clients.options'), ['-Xmx256m', '-XX:+UseSerialGC', '-Djava.net.preferIPv4Stack=true', ...JPMS].join('\n') + '\n');
    writeFileSync(at(`${HOME}/bin/nodetool`), nodetoolScript(java, i), { mode: 0o755 });
    writeFileSync(at(`${HOME}/bin/cassandra-start`), startScript(java), { mode: 0o755 });
    writeFileSync(at(`${HOME}/bin/cassandra-stop`), STOP_SCRIPT, { mode: 0o755 });
    rmSync(at(`${HOME}/lib`), { force: true });
    symlinkSync(lib, at(`${HOME}/lib`));
  }
}

/** A CQL session to exactly one node (no other host is contacted). */
export function cqlClientFor(address: string, keyspace?: string): Client {
  return new Client({
    contactPoints: [address],
    localDataCenter: DATACENTER,
    keyspace,
    policies: { loadBalancing: new policies.loadBalancing.AllowListPolicy(new policies.loadBalancing.RoundRobinPolicy(), [`${address}:${NATIVE_PORT}`]) },
    socketOptions: { connectTimeout: 3000, readTimeout: 20000 },
  });
}

/** A CQL session to the whole sandbox cluster; profile `load` writes at consistency ALL. */
export function cqlClusterClient(s: SandboxSettings, keyspace?: string): Client {
  return new Client({
    contactPoints: Array.from({ length: s.hosts }, (_, i) => hostAddress(i)),
    localDataCenter: DATACENTER,
    keyspace,
    profiles: [new ExecutionProfile('load', { consistency: types.consistencies.all, readTimeout: 30000 })],
    socketOptions: { connectTimeout: 5000, readTimeout: 30000 },
  });
}

async function cqlAnswers(address: string): Promise<boolean> {
  const client = cqlClientFor(address);
  try {
    await client.connect();
    const rs = await client.execute('SELECT release_version FROM system.local');
    return rs.rows.length === 1;
  } finally {
    await client.shutdown();
  }
}

/** Runs nodetool of node i from this process (the same command SSH users get on the node). */
export function nodetool(s: SandboxSettings, i: number, args: string[]): string {
  const at = (p: string) => hostPath(s, hostAddress(i), p);
  return execFileSync(javaBin(), [`@${at('/etc/cassandra/jvm-clients.options')}`, `-Dlogback.configurationFile=${at('/etc/cassandra/logback-tools.xml')}`,
    '-cp', `${cassandraLib(s)}/*`, 'org.apache.cassandra.tools.NodeTool', '-p', String(jmxPort(i)), ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** Starts every node at once inside its SSH host's namespaces; resolves when all answer CQL and see each other Up/Normal. */
export async function startCassandra(s: SandboxSettings, sshd: Started[], track: (p: Started) => void, ring: Ring = mainRing(s)): Promise<void> {
  const java = javaBin();
  prepareCassandra(s, java, ring);
  const nodes: Started[] = [];
  for (const i of ringHosts(ring)) {
    const address = hostAddress(i);
    const p = startDaemon({
      part: `Cassandra node ${address}`,
      command: 'nsenter',
      args: ['--target', String(sshd[i - ring.first].pid), '--mount', '--uts', '--', java, '@/etc/cassandra/jvm-server.options', 'org.apache.cassandra.service.CassandraDaemon'],
      log: hostPath(s, address, '/var/log/cassandra/system.log'),
    });
    // nsenter execs java: this pid is the node's, the one its stop_cmd reads. A node restarted by its
    // start_cmd (a restore) gets a new pid there, which is how the sandbox keeps finding it.
    writeFileSync(hostPath(s, address, PID_FILE), `${p.pid}\n`);
    p.pidFile = hostPath(s, address, PID_FILE);
    track(p);
    nodes.push(p);
  }
  await Promise.all(nodes.map((p, k) => waitReady(p, () => cqlAnswers(hostAddress(ring.first + k)), 300_000)));
  // Every node must see every node Up/Normal: a coordinator that still thinks a peer is down
  // refuses writes at consistency ALL (the sample data load).
  for (const i of ringHosts(ring)) {
    await waitReady(nodes[i - ring.first], async () => {
      const up = nodetool(s, i, ['status']).split('\n').filter((l) => /^UN\s/.test(l)).length;
      return up === ring.count;
    }, 120_000);
  }
}
