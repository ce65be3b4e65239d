/**
 * Starts the sandbox once for the whole integration run (or reuses one already started with
 * `npm run sandbox -- up`, which it then leaves running) and exports its endpoints to the tests.
 * Python Medusa, which the interoperability tests run, is installed (cached) first, sandbox up or not.
 */
import { sandboxEnv } from '../../sandbox/env';
import { down, installPythonMedusa, isUp, loadSampleData, up } from '../../sandbox/index';
import { loadSettings } from '../../sandbox/settings';

export default async function globalSetup(): Promise<void> {
  const s = loadSettings();
  await installPythonMedusa(s, (line) => process.stderr.write(`\nsandbox: ${line}`));
  const alreadyUp = isUp(s);
  // Started, or (left running from an earlier run) its hosts given the tool of this checkout.
  await up(s, (line) => process.stderr.write(`\nsandbox: ${line}`));
  process.stderr.write('\n');
  try {
    if (s.cassandra) await loadSampleData(s, (line) => process.stderr.write(`sandbox: ${line}\n`));
  } catch (err) {
    // jest runs no teardown after a failed setup: stop what this run started, or it outlives the run.
    if (!alreadyUp) await down(s);
    throw err;
  }
  process.env.SANDBOX_STARTED_BY_TESTS = alreadyUp ? '' : '1';
  Object.assign(process.env, sandboxEnv(s));
}
