import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planTemporal } from '../../src/temporal/plan';

const none = { temporal: {} };

test('nothing configured: embedded, with the state directory from MEDUSA_STATE_DIR, [temporal] state_dir or XDG', () => {
  expect(planTemporal(none, { HOME: '/home/c', XDG_STATE_HOME: '/xdg' })).toEqual({ kind: 'embedded', stateDir: '/xdg/medusa-temporal', namespace: 'default' });
  expect(planTemporal(none, { MEDUSA_STATE_DIR: '/var/lib/medusa' })).toMatchObject({ kind: 'embedded', stateDir: '/var/lib/medusa' });
  expect(planTemporal({ temporal: { stateDir: '/s' } }, {})).toMatchObject({ kind: 'embedded', stateDir: '/s' });
  // An empty TEMPORAL_ADDRESS is no address.
  expect(planTemporal(none, { TEMPORAL_ADDRESS: '', MEDUSA_STATE_DIR: '/s' }).kind).toBe('embedded');
});

test('TEMPORAL_ADDRESS wins over [temporal]; TEMPORAL_NAMESPACE over [temporal] namespace', () => {
  const ini = { temporal: { address: 'ini:7233', namespace: 'ini-ns' } };
  expect(planTemporal(ini, { TEMPORAL_ADDRESS: 'env:7233', TEMPORAL_NAMESPACE: 'env-ns' })).toMatchObject({ kind: 'cluster', target: { address: 'env:7233', namespace: 'env-ns' } });
  expect(planTemporal(ini, {})).toMatchObject({ kind: 'cluster', target: { address: 'ini:7233', namespace: 'ini-ns' } });
  expect(planTemporal(ini, { TEMPORAL_NAMESPACE: 'env-ns' })).toMatchObject({ kind: 'cluster', target: { address: 'ini:7233', namespace: 'env-ns' } });
});

test('a profile of a Temporal config file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) is a configured cluster, with its TLS and API key', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tprof-')), 'temporal.toml');
  writeFileSync(file, `[profile.prod]
address = "prod.tmprl.cloud:7233"
namespace = "backups.acct"
api_key = "k-123"
`);
  const plan = planTemporal(none, { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
  expect(plan).toMatchObject({ kind: 'cluster', target: { address: 'prod.tmprl.cloud:7233', namespace: 'backups.acct' } });
  if (plan.kind !== 'cluster') throw new Error('not a cluster');
  // An API key turns TLS on, as the Temporal tools do.
  expect(plan.target.config.connectionOptions).toMatchObject({ apiKey: 'k-123' });
  expect(plan.target.config.connectionOptions.tls).toBeTruthy();
});
