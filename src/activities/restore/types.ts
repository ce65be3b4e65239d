/** Inputs and results of the download activities: names and numbers only, never secrets or file lists. */
import type { DownloadFilter } from '../../plan/download';

export interface DownloadRef {
  backupName: string;
  fqdn: string;
  /** Bucket override (Medusa's --bucket-name); default: the worker's [storage] bucket_name. */
  bucketName?: string;
  /** Prefix override (Medusa's --prefix); default: the worker's [storage] prefix. */
  prefix?: string;
}

export interface PlanDownloadRequest extends DownloadRef, DownloadFilter {
  /** The node written to, when it is not the backup's node (a restore onto other hosts). */
  targetFqdn?: string;
  /** Absolute directory on the node; must exist. */
  destination: string;
  /** Where the plan file goes on the node. */
  workDir: string;
}

export interface DownloadPlanSummary {
  /** Where the plan (every object, its destination, size and MD5) was written on the node. */
  planPath: string;
  destination: string;
  tables: number;
  files: number;
  bytes: number;
  /** Bytes not yet on the node at planning time (what the free-space check compared). */
  neededBytes: number;
  freeBytes: number;
}

export interface DownloadProgress {
  filesDone: number;
  bytesDone: number;
  filesTotal: number;
  bytesTotal: number;
}

export interface DownloadResult {
  filesDownloaded: number;
  bytesDownloaded: number;
  /** Files found complete on the node (right size, and MD5 where known) and not downloaded again. */
  filesAlreadyPresent: number;
  bytesAlreadyPresent: number;
  /** Files whose MD5 was checked (while downloading, or on the node for files already there). */
  filesMd5Checked: number;
}

/** Where a restore keeps its files on a node, and what it needs to know of the node's cassandra.yaml. */
export interface RestoreLayout {
  fqdn: string;
  dataDir: string;
  commitlogDir: string;
  savedCachesDir: string;
  /** The restore's own directory on the node: `download/` (the backup), `previous/` (what it replaced), work files. */
  stagingDir: string;
  downloadDir: string;
  /** Address and port the node serves CQL on (to see it go down and come back). */
  rpcAddress: string;
  nativePort: number;
}

export interface PrepareRestoreRequest {
  fqdn: string;
  /** Medusa's --temp-dir: the restore's directory goes under it; default: next to the data directory (same file system, so moves are renames). */
  tempDir?: string;
  /** Unique per restore run (workflow id and run): names the restore's directory. */
  runKey: string;
}

export interface NodeStepRequest {
  layout: RestoreLayout;
}

export interface SwapRequest extends NodeStepRequest {
  /** Also set aside the commitlog and saved caches (an offline restore: nothing written after the backup may replay). */
  clearCommitlog: boolean;
  /**
   * Restoring another host's backup: its node identity (system.local, peers) is not restored and the
   * target's own is set aside, so the node starts as a new member with the pinned tokens; with keepAuth
   * the target's system_auth stays.
   */
  otherHost?: { keepAuth: boolean };
}

export interface PinTokensRequest extends NodeStepRequest {
  /** Exact decimal tokens the node is started with. */
  tokens: string[];
}

export interface SwapResult {
  /** `<ks>/<table dir>` put in place by this call (a retry reports only what was still to do). */
  tables: string[];
  files: number;
}

export interface ImportResult {
  /** `<ks>.<table>` imported. */
  tables: string[];
  files: number;
}

export interface WaitNodeRequest extends NodeStepRequest {
  timeoutSeconds: number;
}

export interface VerifyRestoreResult {
  query?: string;
  rows?: number;
}
