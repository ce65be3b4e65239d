/**
 * Settings of the S3 adapter (Medusa's `[storage]` keys, already parsed) and the request parameters
 * derived from them.
 */
import { StorageClass } from '@aws-sdk/client-s3';

/** Medusa's defaults: `multi_part_upload_threshold` 20MB, `multipart_chunksize` 50MB, `multipart_max_concurrency` 4. */
export const MEDUSA_S3_DEFAULTS = {
  multipartThreshold: 20 * 1024 * 1024,
  multipartChunkSize: 50 * 1024 * 1024,
  multipartConcurrency: 4,
} as const;

export interface S3StorageOptions {
  bucketName: string;
  /** For S3-compatible servers, e.g. `http://127.0.0.1:7070`; undefined = AWS. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Undefined = the AWS SDK default chain (environment, profile, instance role…). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Bytes; objects of this size or larger go multipart (Medusa's `multi_part_upload_threshold`). */
  multipartThreshold: number;
  /** Bytes per part (Medusa's `multipart_chunksize`); the last part is shorter. */
  multipartChunkSize: number;
  /** Parts in flight per object (Medusa's `multipart_max_concurrency`). */
  multipartConcurrency: number;
  /** SSE-KMS key id (`kms_id`). */
  kmsKeyId?: string;
  /** Base64 256-bit key for SSE-C (`sse_c_key`), sent on every request that reads or writes an object. */
  sseCKey?: string;
  storageClass?: string;
  /** Upload limit of this Storage instance as a whole (`transfer_max_bandwidth`); 0 or undefined = unlimited. */
  maxBandwidthBytesPerSecond?: number;
  /** Per-request timeout (`read_timeout`); undefined = the SDK's default (none). */
  requestTimeoutMs?: number;
}

/** The SSE-C parameters, needed on every request that touches object content or metadata. */
export function sseCParams(o: S3StorageOptions): { SSECustomerAlgorithm?: string; SSECustomerKey?: string } {
  return o.sseCKey ? { SSECustomerAlgorithm: 'AES256', SSECustomerKey: o.sseCKey } : {};
}

/** Parameters of the requests that create an object (PutObject, CreateMultipartUpload). */
export function createParams(o: S3StorageOptions) {
  return {
    ...sseCParams(o),
    ...(o.kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: o.kmsKeyId } : {}),
    ...(o.storageClass ? { StorageClass: o.storageClass as StorageClass } : {}),
  };
}

/** The ETag as Medusa records it: without its quotes. */
export function stripEtag(etag: string | undefined): string | null {
  return etag ? etag.replace(/^"|"$/g, '') : null;
}

const MiB = 1024 * 1024;
/** S3's limits on parts, which boto3 (s3transfer's ChunksizeAdjuster) also applies. */
export const PART_LIMITS = { min: 5 * MiB, max: 5 * 1024 * MiB, maxParts: 10_000 } as const;

/**
 * The part size for an object of `size` bytes, as boto3 chooses it so that the ETag matches what
 * Python Medusa would have produced: the configured chunk size, doubled until the object fits in
 * 10,000 parts, then held within S3's 5 MiB–5 GiB part limits.
 */
export function partSizeFor(size: number, chunkSize: number): number {
  let part = chunkSize;
  while (Math.ceil(size / part) > PART_LIMITS.maxParts) part *= 2;
  return Math.min(PART_LIMITS.max, Math.max(PART_LIMITS.min, part));
}

/** Whether an object of `size` bytes is uploaded multipart: s3transfer's `size >= threshold` rule. */
export function isMultipart(size: number, threshold: number): boolean {
  // A multipart upload needs at least one part; an empty object always goes in a single PUT.
  return size > 0 && size >= threshold;
}
