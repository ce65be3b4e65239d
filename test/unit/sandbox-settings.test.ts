import { hostAddress, loadSettings } from '../../sandbox/settings';

test('defaults: three hosts and the ports the code and the docs assume', () => {
  const s = loadSettings({ HOME: '/home/x' });
  expect(s).toMatchObject({ hosts: 3, temporalPort: 7233, temporalUiPort: 8233, s3Port: 7070, sshPort: 2222, cache: '/home/x/.cache/medusa-sandbox' });
  expect([0, 1, 2].map(hostAddress)).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
});

test('settings come from the environment', () => {
  const s = loadSettings({ SANDBOX_HOSTS: '1', SANDBOX_SSH_PORT: '2022', MEDUSA_SANDBOX_DIR: '/srv/sb' });
  expect(s).toMatchObject({ hosts: 1, sshPort: 2022, dir: '/srv/sb' });
});

test.each([['SANDBOX_HOSTS', '0'], ['SANDBOX_HOSTS', 'three'], ['SANDBOX_S3_PORT', '70000'], ['SANDBOX_SSH_PORT', '22.5']])(
  'a bad %s=%s is one clear line', (name, value) => {
    expect(() => loadSettings({ [name]: value })).toThrow(new RegExp(`^${name}=${value.replace('.', '\\.')} is not a whole number from \\d+ to \\d+$`));
  },
);

test('Cassandra settings: on by default, with a cluster name and heap that can be changed', () => {
  expect(loadSettings({})).toMatchObject({ cassandra: true, clusterName: 'medusa-sandbox', cassandraHeap: '512m' });
  expect(loadSettings({ SANDBOX_CASSANDRA: 'off', SANDBOX_CASSANDRA_CLUSTER: 'prod-like', SANDBOX_CASSANDRA_HEAP: '1g', SANDBOX_DATA_DIR: '/data/sb' }))
    .toMatchObject({ cassandra: false, clusterName: 'prod-like', cassandraHeap: '1g', hostsDir: '/data/sb' });
});

test.each([
  [{ SANDBOX_CASSANDRA: 'maybe' }, /^SANDBOX_CASSANDRA=maybe is not one of 1, 0, true, false/],
  [{ SANDBOX_CASSANDRA_CLUSTER: "a'b" }, /^SANDBOX_CASSANDRA_CLUSTER=a'b must be 1-64 letters/],
  [{ SANDBOX_CASSANDRA_HEAP: '512' }, /^SANDBOX_CASSANDRA_HEAP=512 must look like 512m or 1g$/],
])('bad Cassandra setting %o is one clear line', (env, message) => {
  expect(() => loadSettings(env)).toThrow(message);
});
