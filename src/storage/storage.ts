/**
 * The Storage port: the bucket that holds backups, as Medusa lays it out. Keys are relative to the
 * bucket (they include the `[storage] prefix` when one is set). Two adapters: `local` (a directory,
 * `<base_path>/<bucket_name>/<key>`) and `s3` (AWS S3 and S3-compatible servers).
 *
 * Every write is all-or-nothing: an object is either absent or complete (local writes go to a
 * temporary file that is renamed into place; S3 PUT and CompleteMultipartUpload are atomic). So an
 * object that exists with the expected size can be trusted, which makes uploads idempotent.
 */
import { Readable } from 'node:stream';
import type { BandwidthLimiter } from './bandwidth-limiter';

export interface ObjectInfo {
  key: string;
  size: number;
  /**
   * The hash as the provider reports it, which is what Medusa puts in the manifest's `MD5` field:
   * S3 = the ETag without quotes (hex MD5, or `<hex>-<parts>` for multipart uploads);
   * local = hex MD5 of the content where known, else null.
   */
  hash: string | null;
  lastModified: Date;
}

export interface UploadOptions {
  /** Cancels the transfer (activity cancellation). */
  signal?: AbortSignal;
  /** Called with the number of bytes sent so far for this object. */
  onProgress?: (bytesSent: number) => void;
  /**
   * The bandwidth limit this transfer shares (a node step's `transfer_max_bandwidth`, changeable while it runs);
   * default: the storage's own limiter, from its configuration.
   */
  limiter?: BandwidthLimiter;
}

/** What an upload stored: its size and hash as {@link ObjectInfo} has them. */
export interface UploadedObject {
  size: number;
  hash: string | null;
}

export interface Storage {
  /** A readable description for messages, e.g. `s3://bucket` or `local:/backups/bucket`. */
  readonly description: string;
  /** Metadata of one object, or undefined when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Writes a small object in one request. */
  putBytes(key: string, data: Buffer | string): Promise<ObjectInfo>;
  /** Streams an object of known size; large ones go multipart (S3). */
  upload(key: string, body: Readable, size: number, options?: UploadOptions): Promise<ObjectInfo>;
  /**
   * Uploads a file of this machine (`size` bytes, as planned; another size fails the upload). Large files go up in
   * parts read by range from the file, so nothing is buffered whole and a failed part is read again from its range.
   */
  uploadFile(key: string, path: string, size: number, options?: UploadOptions): Promise<UploadedObject>;
  /** Reads a whole (small) object; undefined when it does not exist. */
  getBytes(key: string): Promise<Buffer | undefined>;
  /** Streams an object (throttled by `options.limiter`, default the storage's own). */
  download(key: string, options?: Pick<UploadOptions, 'limiter'>): Promise<Readable>;
  /**
   * Writes an object into the file `path` of this machine (created or truncated; making it appear atomically is the
   * caller's business), large objects as ranges fetched in parallel and written in place. Resolves with the object's
   * size as storage reported it; fewer or more bytes than `size` fail the download.
   */
  downloadToFile(key: string, path: string, size: number, options?: UploadOptions): Promise<number>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Fails with a clear message when the bucket cannot be reached (missing, wrong credentials, no network). */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** A storage problem that retrying cannot fix: missing bucket, refused credentials, bad configuration. */
export class StorageConfigError extends Error {
  override name = 'StorageConfigError';
}
