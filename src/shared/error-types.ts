/**
 * Error types (class names) no retry can fix: refused input, configuration, credentials or host
 * keys, a backup name that exists, a snapshot or plan that is gone, a cluster busy with another backup, and for
 * downloads an unknown or unfinished backup, a path that would escape the destination, too little space, a stored
 * object that is not what the manifest says. Activities raise them as
 * non-retryable failures; workflows list them in their retry policies. Pure: workflows import it.
 */
export const PERMANENT_ERROR_TYPES = [
  'BadInput', 'BackupExists', 'ConfigError', 'StorageConfigError', 'HostKeyError', 'SshAuthError', 'SnapshotMissing', 'PlanMissing',
  'ClusterBusy', 'BackupNotFound', 'BackupIncomplete', 'UnsafePath', 'NotEnoughSpace', 'ChecksumMismatch',
  'TopologyMismatch', 'NodeDidNotStop', 'NodeDidNotStart', 'VerifyFailed', 'RestoreFailed',
];
