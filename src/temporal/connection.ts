/** Connections to the Temporal a command or worker uses (src/temporal/target.ts says which). */
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { temporalTarget, TemporalTarget } from './target';

export type { TemporalTarget } from './target';

/** One line naming the address when the server does not answer. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
}

function unreachable(address: string, err: unknown): TemporalUnreachableError {
  return new TemporalUnreachableError(`Temporal at ${address} does not answer (${(err as Error).message.split('\n')[0]})`);
}

export async function connectClient(t: TemporalTarget = temporalTarget()): Promise<Connection> {
  try {
    return await Connection.connect({ ...t.config.connectionOptions, address: t.address, connectTimeout: 5000 });
  } catch (err) {
    throw unreachable(t.address, err);
  }
}

export async function connectWorker(t: TemporalTarget = temporalTarget()): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect({ ...t.config.connectionOptions, address: t.address });
  } catch (err) {
    throw unreachable(t.address, err);
  }
}
