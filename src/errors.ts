/**
 * Thrown by a command to end the CLI with a message and an exit code. Only client.ts exits. The message
 * is one line, or several when there are several things to say (each printed as its own `medusa: …` line).
 */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
