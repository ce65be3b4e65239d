/** The Temporal dev server (`temporal server start-dev`), with a SQLite file, the Web UI and our search attributes. */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';
import { assertPortFree, startDaemon, Started, waitReady } from '../proc';
import { SandboxSettings, temporalCli } from '../settings';

const run = promisify(execFile);
export const TEMPORAL_HOST = '127.0.0.1';

export async function startTemporal(s: SandboxSettings, track: (p: Started) => void): Promise<void> {
  await assertPortFree(TEMPORAL_HOST, s.temporalPort, 'Temporal gRPC', 'SANDBOX_TEMPORAL_PORT');
  await assertPortFree(TEMPORAL_HOST, s.temporalUiPort, 'Temporal Web UI', 'SANDBOX_TEMPORAL_UI_PORT');
  const dir = join(s.dir, 'temporal');
  mkdirSync(dir, { recursive: true });
  const cli = temporalCli(s);
  const p = startDaemon({
    part: 'Temporal dev server',
    command: cli,
    args: [
      'server', 'start-dev',
      '--ip', TEMPORAL_HOST, '--port', String(s.temporalPort),
      '--ui-ip', TEMPORAL_HOST, '--ui-port', String(s.temporalUiPort), '--ui-disable-news-fetch',
      '--db-filename', join(dir, 'temporal.db'),
      '--log-level', 'warn',
      '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
      '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
      ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ],
    log: join(dir, 'server.log'),
  });
  track(p);
  const address = `${TEMPORAL_HOST}:${s.temporalPort}`;
  await waitReady(p, async () => {
    await run(cli, ['operator', 'cluster', 'health', '--address', address], { timeout: 5000 });
    return true;
  }, 90_000);
}
