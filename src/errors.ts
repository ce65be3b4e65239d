/** Thrown by a command to end the CLI with a message (one line) and an exit code. Only client.ts exits. */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
