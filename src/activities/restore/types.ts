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
