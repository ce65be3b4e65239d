/**
 * The S3 multipart upload, done by hand rather than with lib-storage's `Upload`: the part layout must
 * be exactly boto3's (parts of the configured chunk size, the last shorter, a multipart upload even
 * for a single part), because Python Medusa's `verify --enable-md5-checks` recomputes the ETag
 * `<md5 of the part md5s>-<n>` from that layout. lib-storage sends a lone part as a plain PUT.
 */
import {
  AbortMultipartUploadCommand, CompletedPart, CompleteMultipartUploadCommand, CreateMultipartUploadCommand,
  S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { addAbortSignal, Readable } from 'node:stream';
import { uploadAborted } from './abort';
import { BandwidthLimiter } from './bandwidth-limiter';
import { readChunks } from './chunk-reader';
import { createParams, partSizeFor, S3StorageOptions, sseCParams } from './s3-options';
import { UploadOptions } from './storage';

/** What a multipart upload needs from its Storage instance (the limiter is shared by all its uploads). */
export interface MultipartContext {
  client: S3Client;
  options: S3StorageOptions;
  limiter: BandwidthLimiter;
}

/**
 * Uploads `body` (exactly `size` bytes) to `key` in parts of {@link partSizeFor} bytes with up to
 * `multipartConcurrency` parts in flight. Any failure, a size mismatch or `options.signal` aborts the
 * multipart upload on the server, so no object and no stored parts are left behind.
 */
export async function uploadMultipart(
  ctx: MultipartContext, key: string, body: Readable, size: number, options: UploadOptions = {},
): Promise<void> {
  const { client, options: o } = ctx;
  const Bucket = o.bucketName;
  // The source may fail before the first part is read (while the upload is being created): its error
  // must reach the caller through the read loop below, not crash the process as an unheard 'error'.
  body.on('error', () => undefined);
  // Checksums as lib-storage does them: the SDK's default (CRC32 per part) is only accepted by AWS
  // when the upload was created with the same algorithm and the parts' checksums are completed too.
  const withChecksums = (await client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
  const created = await client.send(new CreateMultipartUploadCommand({
    Bucket, Key: key, ...createParams(o), ...(withChecksums ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
  }), { abortSignal: options.signal }).catch((err: unknown) => {
    body.destroy(); // nobody will read it: release the file behind it
    throw err;
  });
  const UploadId = created.UploadId;
  if (!UploadId) throw new Error(`S3 returned no UploadId for ${key} in bucket ${Bucket}`);

  // Stops the reader and the parts in flight when one part fails or the caller aborts.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let sent = 0;
  // A stream that stalls must not hold the upload open after an abort: destroying it ends the read.
  addAbortSignal(signal, body);

  const sendPart = async (PartNumber: number, data: Buffer) => {
    const r = await client.send(new UploadPartCommand({
      Bucket, Key: key, UploadId, PartNumber, Body: data, ContentLength: data.length, ...sseCParams(o),
    }), { abortSignal: signal });
    if (!r.ETag) throw new Error(`S3 returned no ETag for part ${PartNumber} of ${key}`);
    parts.push({ PartNumber, ETag: r.ETag, ...(r.ChecksumCRC32 ? { ChecksumCRC32: r.ChecksumCRC32 } : {}) });
    sent += data.length;
    options.onProgress?.(sent);
  };

  try {
    let read = 0;
    let partNumber = 0;
    for await (const data of readChunks(body, partSizeFor(size, o.multipartChunkSize), ctx.limiter, signal)) {
      read += data.length;
      if (read > size) throw new Error(`upload of ${key}: the stream is longer than the declared ${size} bytes`);
      const p: Promise<void> = sendPart(++partNumber, data)
        .catch((err: unknown) => { failure ??= err; stop.abort(err); })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      while (inFlight.size >= Math.max(1, o.multipartConcurrency) && failure === undefined) await Promise.race(inFlight);
      if (failure !== undefined) break;
    }
    await Promise.all(inFlight);
    options.signal?.throwIfAborted();
    if (failure !== undefined) throw failure;
    if (read !== size) throw new Error(`upload of ${key}: the stream ended after ${read} of ${size} bytes`);
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await client.send(new CompleteMultipartUploadCommand({
      Bucket, Key: key, UploadId, MultipartUpload: { Parts: parts }, ...sseCParams(o),
    }), { abortSignal: options.signal });
  } catch (err) {
    // The first cause wins: parts aborted because of it must not replace it with "Request aborted".
    failure ??= err;
    stop.abort(err);
    await Promise.allSettled(inFlight);
    // Without the abort the parts stay stored (and billed) until a lifecycle rule removes them.
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId })).catch(() => undefined);
    throw options.signal?.aborted ? uploadAborted(options.signal, `upload of ${key} to s3://${Bucket}`) : failure ?? err;
  }
}
