/**
 * The sandbox's own contract: a second `up` is a no-op, ports in use and parts that fail to start
 * give one clear line naming the part and its log, and `down` stops exactly what `up` started.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandboxEnv } from '../../sandbox/env';
import { down, isUp, status, up } from '../../sandbox/index';
import { portOpen, processStartTime } from '../../sandbox/proc';
import { loadSettings, SandboxSettings } from '../../sandbox/settings';

const made: SandboxSettings[] = [];
afterAll(async () => {
  for (const s of made) await down(s, { purge: true });
});

/** A second, small sandbox on other ports, so the shared one is never disturbed. */
function otherSandbox(extra: Record<string, string> = {}): SandboxSettings {
  const s = loadSettings({
    ...process.env,
    MEDUSA_SANDBOX_DIR: mkdtempSync(join(tmpdir(), 'sandbox-test-')),
    SANDBOX_HOSTS: '1', SANDBOX_TEMPORAL_PORT: '17233', SANDBOX_TEMPORAL_UI_PORT: '18233',
    SANDBOX_S3_PORT: '17070', SANDBOX_SSH_PORT: '12222', SANDBOX_CASSANDRA: '0',
    ...extra,
  });
  made.push(s);
  return s;
}

test('a second up while running is a no-op: no second server, same processes', async () => {
  const s = loadSettings();
  const before = status(s);
  expect(isUp(s)).toBe(true);
  await expect(up(s)).resolves.toBe(false);
  expect(status(s)).toEqual(before);
});

test('a port in use stops up with a line naming the port, the part and the setting to change', async () => {
  const shared = loadSettings();
  const s = otherSandbox({ SANDBOX_TEMPORAL_PORT: String(shared.temporalPort) });
  await expect(up(s)).rejects.toThrow(
    `port 127.0.0.1:${shared.temporalPort} (Temporal gRPC) is already in use by another process; stop it or set SANDBOX_TEMPORAL_PORT to another port`,
  );
  expect(status(s)).toEqual([]);
});

test('a part that fails to start names itself and its log, and nothing started before it is left running', async () => {
  const s = otherSandbox();
  // The S3 server's data directory is a file: versitygw cannot start.
  mkdirSync(join(s.dir, 's3'), { recursive: true });
  writeFileSync(join(s.dir, 's3', 'data'), 'not a directory');
  const err = await up(s).catch((e: Error) => e);
  expect(String(err)).toMatch(new RegExp(`S3 server \\(versitygw\\) (exited during start-up|did not become ready).*; read ${join(s.dir, 's3', 'versitygw.log')}$`));
  expect(status(s)).toEqual([]);
  // The Temporal server that came up first was stopped again.
  expect(await portOpen('127.0.0.1', s.temporalPort)).toBe(false);
}, 180_000);

test('a Cassandra node that cannot start fails up, naming the node and its log, and leaves nothing running', async () => {
  // Its addresses and ports (127.0.0.2:7000/9042) are the shared cluster's: this node cannot bind them.
  const s = otherSandbox({ SANDBOX_CASSANDRA: '1', SANDBOX_CASSANDRA_CLUSTER: 'never-joins' });
  const err = await up(s).catch((e: Error) => e);
  expect(String(err)).toMatch(new RegExp(`Cassandra node 127\\.0\\.0\\.2 (exited during start-up|did not become ready).*; read ${join(s.hostsDir, '127.0.0.2', 'fs', 'var', 'log', 'cassandra', 'system.log')}$`));
  expect(status(s)).toEqual([]);
  expect(await portOpen('127.0.0.2', s.sshPort)).toBe(false);
}, 400_000);

test('down stops exactly the processes up started, and leaves the shared sandbox alone', async () => {
  const shared = loadSettings();
  const s = otherSandbox();
  expect(await up(s)).toBe(true);
  const mine = status(s);
  expect(mine.map((p) => p.part)).toEqual(['Temporal dev server', 'S3 server (versitygw)', 'SSH host 127.0.0.2']);
  expect(mine.every((p) => p.running)).toBe(true);
  expect(sandboxEnv(s).SANDBOX_SSH_PORT).toBe('12222');
  const stopped = await down(s);
  expect(stopped).toHaveLength(3);
  for (const p of mine) expect(processStartTime(p.pid)).toBeUndefined();
  expect(await portOpen('127.0.0.2', s.sshPort)).toBe(false);
  expect(isUp(shared)).toBe(true);
}, 180_000);
