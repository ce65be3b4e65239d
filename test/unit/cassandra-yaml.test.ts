import { parseCassandraYaml } from '../../src/cassandra/cassandra-yaml';

test('the directories a restore needs: configured ones, else beside the data directory as Cassandra puts them', () => {
  const set = parseCassandraYaml([
    'data_file_directories:', '  - /data/cassandra/data/', 'commitlog_directory: /fast/commitlog', 'saved_caches_directory: /data/caches',
    'rpc_address: 10.0.0.5', 'native_transport_port: 9142',
  ].join('\n'), 'cassandra.yaml');
  expect(set).toEqual({
    dataDir: '/data/cassandra/data', commitlogDir: '/fast/commitlog', savedCachesDir: '/data/caches', rpcAddress: '10.0.0.5', nativePort: 9142,
  });
  const silent = parseCassandraYaml('data_file_directories: [/var/lib/cassandra/data]\nrpc_address: 0.0.0.0\nlisten_address: 10.0.0.6\n', 'y');
  expect(silent).toEqual({
    dataDir: '/var/lib/cassandra/data', commitlogDir: '/var/lib/cassandra/commitlog', savedCachesDir: '/var/lib/cassandra/saved_caches',
    rpcAddress: '10.0.0.6', nativePort: 9042,
  });
  expect(() => parseCassandraYaml('data_file_directories: [/a, /b]\n', 'y')).toThrow(/exactly one/);
});
