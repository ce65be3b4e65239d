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
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { addAbortSignal, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { uploadAborted } from './abort';
import { BandwidthLimiter, throttle } from './bandwidth-limiter';
import { readChunks } from './chunk-reader';
import { configErrorFor } from './s3-errors';
import { createParams, partSizeFor, S3StorageOptions, sseCParams } from './s3-options';
import { UploadOptions } from './storage';

/** What a multipart upload needs from its Storage instance (the limiter is shared by all its uploads). */
export interface MultipartContext {
  client: S3Client;
  options: S3StorageOptions;
  limiter: BandwidthLimiter;
  /**
   * A client that does not retry, for parts whose body is a stream (a sent stream cannot be sent again by the SDK's
   * retry layer): those parts are retried here with a fresh stream. Defaults to `client`.
   */
  streamClient?: S3Client;
}

/** One part as the core sends it: its length and a body, made afresh for every attempt. */
interface PartBody {
  length: number;
  /** A Buffer (the SDK retries it itself) or a new stream of exactly `length` bytes. */
  open: () => Buffer | Readable;
}

/** Attempts of a part whose body is a stream (a buffered one is retried by the SDK). */
export const STREAMED_PART_ATTEMPTS = 4;

/**
 * The multipart upload itself: create, up to `multipartConcurrency` parts in flight, complete; any failure, a size
 * mismatch or `options.signal` aborts it on the server, so no object and no stored parts are left behind.
 * Resolves with the ETag of the completed object (as S3 answered it, quotes included), or undefined if none came.
 */
async function runMultipart(
  ctx: MultipartContext, key: string, size: number, options: UploadOptions,
  parts: (signal: AbortSignal) => AsyncIterable<PartBody>, releaseSource: () => void,
): Promise<string | undefined> {
  const { client, options: o } = ctx;
  const Bucket = o.bucketName;
  // Checksums as lib-storage does them: the SDK's default (CRC32 per part) is only accepted by AWS
  // when the upload was created with the same algorithm and the parts' checksums are completed too.
  const withChecksums = (await client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
  const created = await client.send(new CreateMultipartUploadCommand({
    Bucket, Key: key, ...createParams(o), ...(withChecksums ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
  }), { abortSignal: options.signal }).catch((err: unknown) => {
    releaseSource(); // nobody will read it: release the file behind it
    throw err;
  });
  const UploadId = created.UploadId;
  if (!UploadId) throw new Error(`S3 returned no UploadId for ${key} in bucket ${Bucket}`);

  // Stops the reader and the parts in flight when one part fails or the caller aborts.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const completed: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let sent = 0;

  const sendPart = async (PartNumber: number, part: PartBody) => {
    for (let attempt = 1; ; attempt++) {
      const Body = part.open();
      const streamed = !Buffer.isBuffer(Body);
      try {
        const r = await (streamed ? ctx.streamClient ?? client : client).send(new UploadPartCommand({
          Bucket, Key: key, UploadId, PartNumber, Body, ContentLength: part.length, ...sseCParams(o),
        }), { abortSignal: signal });
        if (!r.ETag) throw new Error(`S3 returned no ETag for part ${PartNumber} of ${key}`);
        completed.push({ PartNumber, ETag: r.ETag, ...(r.ChecksumCRC32 ? { ChecksumCRC32: r.ChecksumCRC32 } : {}) });
        sent += part.length;
        options.onProgress?.(sent);
        return;
      } catch (err) {
        // Only this part is sent again, read afresh from its range: not the whole file.
        if (!streamed || signal.aborted || attempt >= STREAMED_PART_ATTEMPTS || configErrorFor(err, { bucket: Bucket, endpoint: '' })) throw err;
        await sleep(250 * 2 ** attempt, undefined, { signal });
      } finally {
        if (streamed) Body.destroy();
      }
    }
  };

  try {
    let read = 0;
    let partNumber = 0;
    for await (const part of parts(signal)) {
      read += part.length;
      if (read > size) throw new Error(`upload of ${key}: the stream is longer than the declared ${size} bytes`);
      const p: Promise<void> = sendPart(++partNumber, part)
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
    completed.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    const done = await client.send(new CompleteMultipartUploadCommand({
      Bucket, Key: key, UploadId, MultipartUpload: { Parts: completed }, ...sseCParams(o),
    }), { abortSignal: options.signal });
    return done.ETag;
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

/**
 * Uploads `body` (exactly `size` bytes) to `key` in parts of {@link partSizeFor} bytes with up to
 * `multipartConcurrency` parts in flight, each part buffered (a stream from another machine can only be read in
 * order). Resolves with the ETag S3 gave the object.
 */
export async function uploadMultipart(
  ctx: MultipartContext, key: string, body: Readable, size: number, options: UploadOptions = {},
): Promise<string | undefined> {
  // The source may fail before the first part is read (while the upload is being created): its error
  // must reach the caller through the read loop below, not crash the process as an unheard 'error'.
  body.on('error', () => undefined);
  return runMultipart(ctx, key, size, options, (signal) => {
    // A stream that stalls must not hold the upload open after an abort: destroying it ends the read.
    addAbortSignal(signal, body);
    return (async function* () {
      for await (const data of readChunks(body, partSizeFor(size, ctx.options.multipartChunkSize), ctx.limiter, signal)) {
        yield { length: data.length, open: () => data };
      }
    })();
  }, () => body.destroy());
}

/**
 * Uploads the file at `path` on this machine (exactly `size` bytes) to `key` in the same parts, each read from its
 * range of the file while it is sent — nothing is buffered whole, so memory stays small however large the parts —
 * and a part that fails is read again from its own range. Resolves with the ETag S3 gave the object.
 */
export async function uploadFileMultipart(
  ctx: MultipartContext, key: string, path: string, size: number, options: UploadOptions = {},
): Promise<string | undefined> {
  const partSize = partSizeFor(size, ctx.options.multipartChunkSize);
  const actual = (await stat(path)).size;
  if (actual !== size) throw new Error(`upload of ${key}: ${path} has ${actual} bytes, not the planned ${size}`);
  return runMultipart(ctx, key, size, options, (signal) => (async function* () {
    for (let start = 0; start < size; start += partSize) {
      const length = Math.min(partSize, size - start);
      yield {
        length,
        open: () => throttle(createReadStream(path, { start, end: start + length - 1, highWaterMark: 256 * 1024, signal }), ctx.limiter, signal),
      };
    }
  })(), () => undefined);
}
