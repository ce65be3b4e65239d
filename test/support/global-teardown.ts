/** Stops the sandbox if this test run started it. */
import { down } from '../../sandbox/index';
import { loadSettings } from '../../sandbox/settings';

export default async function globalTeardown(): Promise<void> {
  if (process.env.SANDBOX_STARTED_BY_TESTS === '1') await down(loadSettings());
}
