/** Inputs and results of the backup activities: names and numbers only, never secrets or file lists. */
import type { BackupMode } from '../../plan/layout';

export interface NodeBackupRef {
  backupName: string;
  fqdn: string;
  mode: BackupMode;
  /** Bucket override (Medusa's --bucket-name); default: the worker's [storage] bucket_name. */
  bucketName?: string;
  /** Prefix override (Medusa's --prefix); default: the worker's [storage] prefix. */
  prefix?: string;
}

export interface BackupStart {
  dataDir: string;
  startedEpoch: number;
  releaseVersion: string;
}

export interface PlanSummary {
  /** Where the plan (every file, its key and action) was written on the node. */
  planPath: string;
  files: number;
  bytes: number;
  uploadFiles: number;
  uploadBytes: number;
  keptFiles: number;
  keptBytes: number;
  /** Bytes hashed on the node to compare with stored hashes (md5 checks), by this attempt. */
  hashedBytes: number;
  /** Seconds this attempt spent hashing them. */
  hashSeconds: number;
}

export interface UploadProgress {
  filesDone: number;
  bytesDone: number;
  filesTotal: number;
  bytesTotal: number;
}

export interface UploadResult {
  filesUploaded: number;
  bytesUploaded: number;
  /** Objects found complete in storage (sent by an earlier attempt) and not sent again. */
  filesAlreadyPresent: number;
  bytesAlreadyPresent: number;
}

export interface FinishResult {
  manifestKey: string;
  finishedEpoch: number;
  objects: number;
  bytes: number;
}
