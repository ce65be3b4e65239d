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
