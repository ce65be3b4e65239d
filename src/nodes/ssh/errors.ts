/**
 * Errors of the SSH layer, split by what a caller should do about them: host-key and
 * authentication failures are configuration problems (never retried), everything else about
 * reaching a host or keeping the connection is transient (retried).
 */

/** A connection was refused because the host's key is unknown, changed or revoked. Never retried. */
export class HostKeyError extends Error {
  override name = 'HostKeyError';
  constructor(message: string, readonly host: string, readonly reason: string) {
    super(message);
  }
}

/** Authentication was refused for the user and key. Never retried. */
export class SshAuthError extends Error {
  override name = 'SshAuthError';
  constructor(message: string, readonly host: string) {
    super(message);
  }
}

/**
 * Any other failure to reach the host (refused, timed out, reset), or the loss of an established
 * connection under a running command or transfer: worth retrying on a new connection.
 */
export class SshConnectError extends Error {
  override name = 'SshConnectError';
  constructor(message: string, readonly host: string) {
    super(message);
  }
}
