import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMedusaConfig, ConfigEnvironment, ConfigError, loadMedusaConfig, nodeTaskQueueOf } from '../../src/config/medusa-config';
import { parseSize } from '../../src/config/sizes';

/** A host named node1, known to its name service as node1.example.com at 10.0.0.1. */
const hostNames = {
  getfqdn: (name?: string) => (name === undefined || name === '10.0.0.1' ? 'node1.example.com' : name),
  resolveName: (name: string) => (name === 'node1.example.com' ? '10.0.0.1' : undefined),
};
const env: ConfigEnvironment = { env: { USER: 'cassandra' }, hostNames, home: '/home/cassandra' };
const minimal = { storage: { storage_provider: 'local', base_path: '/backups', bucket_name: 'b' } };

test("Medusa's defaults apply where the file is silent", () => {
  const c = buildMedusaConfig('f.ini', minimal, {}, env);
  expect(c.storage).toMatchObject({
    storageProvider: 'local', bucketName: 'b', basePath: '/backups', prefix: '', fqdn: 'node1.example.com', region: 'default',
    concurrentTransfers: 1, multiPartUploadThreshold: 20 * 1024 * 1024, multipartChunkSize: 50 * 1024 * 1024, multipartMaxConcurrency: 4,
    transferMaxBandwidth: 50 * 1024 * 1024, maxBackupAge: 0, maxBackupCount: 0, backupGracePeriodInDays: 10, secure: true, sslVerify: false,
  });
  expect(c.cassandra).toMatchObject({ configFile: '/etc/cassandra/cassandra.yaml', nodetoolExecutable: 'nodetool', nodetoolFlags: '-Dcom.sun.jndi.rmiURLParsing=legacy', useSudo: true });
  expect(c.ssh).toMatchObject({ username: 'cassandra', port: 22, keepaliveSeconds: 60, knownHosts: '/home/cassandra/.ssh/known_hosts', strictHostKeyChecking: true });
  expect(c.checks).toEqual({ enableMd5Checks: false, md5CheckConcurrency: 1 });
  expect(c.orchestration).toEqual({ nodeAccess: 'ssh', nodeCommand: 'medusa', nodeTaskQueue: 'medusa-node-{fqdn}' });
});

test("the default node name is Medusa's: getfqdn() resolved, or its address when resolve_ip_addresses = False (also from MEDUSA_RESOLVE_IP_ADDRESSES)", () => {
  const fqdn = (cassandra: Record<string, string>, more: Partial<typeof env> = {}, fromCli?: string) =>
    buildMedusaConfig('f.ini', { ...minimal, cassandra }, { fqdn: fromCli }, { ...env, ...more }).storage.fqdn;
  expect(fqdn({})).toBe('node1.example.com');
  expect(fqdn({ resolve_ip_addresses: 'False' })).toBe('10.0.0.1');
  expect(fqdn({ resolve_ip_addresses: 'True' }, { env: { MEDUSA_RESOLVE_IP_ADDRESSES: 'False' } })).toBe('10.0.0.1');
  // --fqdn naming this host's getfqdn() goes through the same resolution; any other name is used as given.
  expect(fqdn({ resolve_ip_addresses: 'False' }, {}, 'node1.example.com')).toBe('10.0.0.1');
  expect(fqdn({ resolve_ip_addresses: 'False' }, {}, 'cass-7')).toBe('cass-7');
  expect(() => fqdn({}, { hostNames: { ...hostNames, resolveName: () => undefined } })).toThrow('set [storage] fqdn');
});

test('[orchestration] chooses workers on the nodes, and names their queues from a template', () => {
  const c = buildMedusaConfig('f.ini', { ...minimal, orchestration: { node_access: 'Worker', node_task_queue: 'backup-{fqdn}-q' } }, {}, env);
  expect(c.orchestration.nodeAccess).toBe('worker');
  const agentless = buildMedusaConfig('f.ini', { ...minimal, orchestration: { node_access: 'agentless', node_command: 'sudo -u cassandra /opt/m/bin/medusa' } }, {}, env);
  expect(agentless.orchestration).toMatchObject({ nodeAccess: 'agentless', nodeCommand: 'sudo -u cassandra /opt/m/bin/medusa' });
  expect(nodeTaskQueueOf(c.orchestration, '10.0.0.5')).toBe('backup-10.0.0.5-q');
  expect(nodeTaskQueueOf(buildMedusaConfig('f.ini', minimal, {}, env).orchestration, 'n1')).toBe('medusa-node-n1');
});

test('command-line globals win over the file; --key-file does not leak into [ssh]', () => {
  const c = buildMedusaConfig('f.ini', { ...minimal, ssh: { key_file: '/k/ssh' } }, { bucketName: 'other', prefix: 'tenant1', fqdn: '10.0.0.5', keyFile: '/k/aws' }, env);
  expect(c.storage).toMatchObject({ bucketName: 'other', prefix: 'tenant1', fqdn: '10.0.0.5', keyFile: '/k/aws' });
  expect(c.ssh.keyFile).toBe('/k/ssh');
});

test('CQL credentials come from MEDUSA_CQL_USERNAME / MEDUSA_CQL_PASSWORD before the file', () => {
  const c = buildMedusaConfig('f.ini', { ...minimal, cassandra: { cql_username: 'a', cql_password: 'b' } },
    {}, { ...env, env: { MEDUSA_CQL_USERNAME: 'u', MEDUSA_CQL_PASSWORD: 'p' } });
  expect(c.cassandra).toMatchObject({ cqlUsername: 'u', cqlPassword: 'p' });
});

test.each([
  [{ storage: { bucket_name: 'b' } }, /\[storage\] storage_provider in f\.ini is required/],
  [{ storage: { storage_provider: 'local', base_path: '/x' } }, /\[storage\] bucket_name in f\.ini is required/],
  [{ storage: { ...minimal.storage, bucket_name: 'a/b' } }, /bucket_name a\/b must not contain '\/'/],
  [{ storage: { ...minimal.storage, prefix: 'a/b' } }, /prefix a\/b must not contain '\/'/],
  [{ storage: { ...minimal.storage, prefix: 'x' } }, /prefix x is one character/],
  [{ storage: { storage_provider: 'local', bucket_name: 'b' } }, /base_path in f\.ini is required with storage_provider = local/],
  [{ storage: { ...minimal.storage, storage_provider: 'google_storage' } }, /google_storage is not supported yet/],
  [{ storage: { storage_provider: 's3_compatible', bucket_name: 'b' } }, /\[storage\] host in f\.ini is required/],
  [{ storage: { ...minimal.storage, concurrent_transfers: '0' } }, /concurrent_transfers in f\.ini = 0 is not a whole number ≥ 1/],
  [{ storage: { ...minimal.storage, multipart_chunksize: '1MB' } }, /must be at least 5MB/],
  [{ storage: { ...minimal.storage, multi_part_upload_threshold: 'lots' } }, /multi_part_upload_threshold in f\.ini = lots is not a size/],
  [{ ...minimal, checks: { enable_md5_checks: 'perhaps' } }, /enable_md5_checks in f\.ini = perhaps is not true or false/],
  [{ ...minimal, orchestration: { node_access: 'agent' } }, /\[orchestration\] node_access in f\.ini = agent is not one of ssh, agentless, worker/],
  [{ ...minimal, orchestration: { node_task_queue: 'medusa-node' } }, /node_task_queue in f\.ini = medusa-node must contain \{fqdn\}/],
])('bad configuration %o is one clear line', (sections, message) => {
  expect(() => buildMedusaConfig('f.ini', sections, {}, env)).toThrow(ConfigError);
  expect(() => buildMedusaConfig('f.ini', sections, {}, env)).toThrow(message);
});

test('sizes are binary, as in Medusa', () => {
  expect(parseSize('20MB', 'x')).toBe(20 * 1024 * 1024);
  expect(parseSize('50MB/s', 'x')).toBe(50 * 1024 * 1024);
  expect(parseSize('1.5GB', 'x')).toBe(1.5 * 1024 ** 3);
  expect(parseSize('8 KB', 'x')).toBe(8192);
  expect(parseSize('1048576', 'x')).toBe(1048576);
  expect(() => parseSize('MB', 'x')).toThrow('x = MB is not a size');
});

test('a real file: booleans and comments are read as Medusa reads them; a missing file is one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ini-'));
  const file = join(dir, 'medusa.ini');
  writeFileSync(file, '; sandbox\n[storage]\nstorage_provider = local\nbase_path = /b\nbucket_name = x\nsecure = False\n[checks]\nenable_md5_checks = True\n');
  const c = loadMedusaConfig(file);
  expect(c.storage.secure).toBe(false);
  expect(c.checks.enableMd5Checks).toBe(true);
  expect(() => loadMedusaConfig(join(dir, 'nope.ini'))).toThrow(`config file ${join(dir, 'nope.ini')} does not exist (set --config-file or MEDUSA_CONFIG_FILE)`);
});

test('restore settings: Medusa\'s start/stop commands and sudo by default, the verify query from [checks]', () => {
  const d = buildMedusaConfig('f.ini', minimal, {}, env);
  expect(d.cassandra).toMatchObject({ startCmd: 'sudo service cassandra start', stopCmd: 'sudo service cassandra stop' });
  expect(d.storage.useSudoForRestore).toBe(true);
  const c = buildMedusaConfig('f.ini', {
    storage: { ...minimal.storage, use_sudo_for_restore: 'False' },
    cassandra: { start_cmd: '/opt/cassandra/bin/cassandra-start', stop_cmd: 'systemctl stop cassandra' },
    checks: { query: 'SELECT * FROM ks.t LIMIT 1', expected_rows: '1', expected_result: 'x' },
  }, {}, env);
  expect(c.storage.useSudoForRestore).toBe(false);
  expect(c.cassandra).toMatchObject({ startCmd: '/opt/cassandra/bin/cassandra-start', stopCmd: 'systemctl stop cassandra' });
  expect(c.checks).toMatchObject({ query: 'SELECT * FROM ks.t LIMIT 1', expectedRows: 1, expectedResult: 'x' });
  expect(() => buildMedusaConfig('f.ini', { ...minimal, checks: { expected_rows: 'many' } }, {}, env)).toThrow(ConfigError);
});
