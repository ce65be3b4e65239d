/** Every workflow the worker registers. Deterministic code only: no I/O, no clock, no environment. */
export { checkWorker } from './check-worker';
export type { CheckWorkerInput, CheckWorkerResult } from './check-worker';
export { backupNode, backupNodeProgress } from './backup-node';
export type { BackupNodeInput, BackupNodeProgress, BackupNodeResult, BackupPhase } from './backup-node';
export { backupCluster, clusterProgress, setParallelUploads } from './backup-cluster';
export type { BackupClusterInput, BackupClusterResult, ClusterProgress, NodePhase, NodeStatus } from './backup-cluster';
export { clusterLock, releaseClusterLock } from './cluster-lock';
export { setTransferMaxBandwidth, transferMaxBandwidth } from './live-bandwidth';
export type { ClusterLockInput } from './cluster-lock';
export { deleteBackup, purgeBackups } from './purge';
export type { DeleteBackupInput, DeletionResult, PurgeBackupsInput } from './purge';
export { downloadNode, downloadNodeProgress } from './download-node';
export type { DownloadNodeInput, DownloadNodeProgress, DownloadNodeResult, DownloadPhase } from './download-node';
export { restoreCluster, restoreNode, restoreProgress } from './restore';
export type { NodeRestorePhase, NodeRestoreStatus, RestoreClusterInput, RestoreMode, RestoreNodeInput, RestoreOptions, RestoreProgress, RestoreResult } from './restore';
