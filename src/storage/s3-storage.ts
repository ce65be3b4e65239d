/**
 * The S3 adapter of the Storage port, for AWS S3 and S3-compatible servers (Medusa's `s3`,
 * `s3_compatible`, `s3_rgw`…). Hashes are ETags as Medusa records them; the multipart layout follows
 * boto3's (see s3-multipart.ts). Objects below the multipart threshold are read into memory and sent
 * in one PutObject with its length: a stream body would make the SDK use aws-chunked encoding, which
 * some servers (versitygw among them) refuse for small or uneven chunks, and a buffer can be retried.
 */
import {
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { addAbortSignal, Readable } from 'node:stream';
import { uploadAborted } from './abort';
import { createBandwidthLimiter, throttle } from './bandwidth-limiter';
import { FileHandle, open, readFile } from 'node:fs/promises';
import { mapLimit } from '../shared/map-limit';
import { readAll } from './chunk-reader';
import { checkFailure, isMissingObject, rethrowS3Error, S3Place } from './s3-errors';
import { uploadFileMultipart, uploadMultipart } from './s3-multipart';
import { createParams, isMultipart, PART_LIMITS, S3StorageOptions, sseCParams, stripEtag } from './s3-options';
import { ObjectInfo, Storage, UploadedObject, UploadOptions } from './storage';

export { MEDUSA_S3_DEFAULTS } from './s3-options';
export type { S3StorageOptions } from './s3-options';

/** A Storage on an S3 bucket. The client is created here and destroyed by `close()`. */
/**
 * The bytes of one range of a download, written at their place in the file: gathered into writes of about
 * {@link WRITE_BATCH} (one write per network chunk, ~16k a GiB, cost more than the copy they avoid) with one write in
 * flight while the next batch arrives.
 */
const WRITE_BATCH = 1024 * 1024;

class PositionedWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private written: number;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly fh: FileHandle, start: number) {
    this.written = start;
  }

  /** The file position after the last byte added. */
  get end(): number {
    return this.written + this.batchBytes;
  }

  /** Resolves once the caller may read on: the batch is not full, or the write before it is done. */
  async add(buf: Buffer): Promise<void> {
    this.batch.push(buf);
    this.batchBytes += buf.length;
    if (this.batchBytes >= WRITE_BATCH) await this.flush();
  }

  /** Every byte added is written. */
  async finish(): Promise<void> {
    await this.flush();
    await this.inFlight;
  }

  private async flush(): Promise<void> {
    if (this.batchBytes === 0) return;
    const bufs = this.batch;
    const at = this.written;
    this.written += this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    await this.inFlight;
    this.inFlight = writeFully(this.fh, bufs, at);
    // A failure is the next add's or finish's; a download that fails meanwhile for another reason never waits for it.
    this.inFlight.catch(() => undefined);
  }
}

async function writeFully(fh: FileHandle, bufs: Buffer[], at: number): Promise<void> {
  let left = bufs;
  let pos = at;
  while (left.length > 0) {
    const { bytesWritten } = await fh.writev(left, pos);
    pos += bytesWritten;
    // A short write (rare on a regular file): the rest, from where it stopped.
    let skip = bytesWritten;
    while (left.length > 0 && skip >= left[0].length) {
      skip -= left[0].length;
      left = left.slice(1);
    }
    if (skip > 0) left = [left[0].subarray(skip), ...left.slice(1)];
  }
}

export function createS3Storage(o: S3StorageOptions): Storage {
  const config = {
    region: o.region,
    endpoint: o.endpoint,
    forcePathStyle: o.forcePathStyle,
    credentials: o.credentials,
    // Request checksums only where the operation requires one (as boto3 since 1.36 with Medusa 0.30's
    // `when_required`): Ceph, MinIO and Cleversafe refuse the SDK's default CRC32 trailers, and a part streamed
    // from a file is then sent as it is read. AWS_REQUEST_CHECKSUM_CALCULATION still decides when it is set.
    ...(process.env.AWS_REQUEST_CHECKSUM_CALCULATION ? {} : { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }),
    ...(o.requestTimeoutMs ? { requestHandler: { requestTimeout: o.requestTimeoutMs } } : {}),
  };
  const client = new S3Client(config);
  // Parts streamed from a file are retried by uploadFileMultipart with a fresh stream, not by the SDK.
  const streamClient = new S3Client({ ...config, maxAttempts: 1 });
  const Bucket = o.bucketName;
  const at: S3Place = { bucket: Bucket, endpoint: o.endpoint ?? `AWS S3 (${o.region})` };
  const limiter = createBandwidthLimiter(o.maxBandwidthBytesPerSecond);

  async function head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const r = await client.send(new HeadObjectCommand({ Bucket, Key: key, ...sseCParams(o) }));
      return { key, size: r.ContentLength ?? 0, hash: stripEtag(r.ETag), lastModified: r.LastModified ?? new Date(0) };
    } catch (err) {
      if (isMissingObject(err)) return undefined;
      return rethrowS3Error(err, at);
    }
  }

  /** The object as stored, read back after a write so size, ETag and date are the server's. */
  async function headAfterWrite(key: string): Promise<ObjectInfo> {
    const info = await head(key);
    if (!info) throw new Error(`${key} is missing from s3://${Bucket} right after it was written`);
    return info;
  }

  async function putBuffer(key: string, data: Buffer, signal?: AbortSignal): Promise<ObjectInfo> {
    try {
      await client.send(new PutObjectCommand({
        Bucket, Key: key, Body: data, ContentLength: data.length, ...createParams(o),
      }), { abortSignal: signal });
    } catch (err) {
      if (signal?.aborted) throw uploadAborted(signal, `upload of ${key} to s3://${Bucket}`);
      return rethrowS3Error(err, at);
    }
    return headAfterWrite(key);
  }

  async function upload(key: string, body: Readable, size: number, options: UploadOptions = {}): Promise<ObjectInfo> {
    if (isMultipart(size, o.multipartThreshold)) {
      try {
        await uploadMultipart({ client, options: o, limiter: options.limiter ?? limiter }, key, body, size, options);
      } catch (err) {
        return rethrowS3Error(err, at);
      }
    } else {
      const { signal } = options;
      if (signal) addAbortSignal(signal, body);
      let data: Buffer;
      try {
        data = await readAll(body, options.limiter ?? limiter, signal);
      } catch (err) {
        throw signal?.aborted ? uploadAborted(signal, `upload of ${key} to s3://${Bucket}`) : err;
      }
      if (data.length !== size) throw new Error(`upload of ${key}: the stream had ${data.length} bytes, not the declared ${size}`);
      const info = await putBuffer(key, data, signal);
      options.onProgress?.(size);
      return info;
    }
    return headAfterWrite(key);
  }

  async function uploadFile(key: string, path: string, size: number, options: UploadOptions = {}): Promise<UploadedObject> {
    const { signal } = options;
    let etag: string | undefined;
    try {
      if (isMultipart(size, o.multipartThreshold)) {
        etag = await uploadFileMultipart({ client, streamClient, options: o, limiter: options.limiter ?? limiter }, key, path, size, options);
      } else {
        // Small: one buffered PUT, which the SDK can retry.
        const data = await readFile(path, { signal });
        if (data.length !== size) throw new Error(`upload of ${key}: ${path} has ${data.length} bytes, not the planned ${size}`);
        await (options.limiter ?? limiter).take(size, signal);
        etag = (await client.send(new PutObjectCommand({ Bucket, Key: key, Body: data, ContentLength: size, ...createParams(o) }), { abortSignal: signal })).ETag;
        options.onProgress?.(size);
      }
    } catch (err) {
      if (signal?.aborted) throw uploadAborted(signal, `upload of ${key} to s3://${Bucket}`);
      return rethrowS3Error(err, at);
    }
    // The answer's ETag is the object's; a server that gives none is asked.
    if (etag) return { size, hash: stripEtag(etag) };
    const info = await headAfterWrite(key);
    return { size: info.size, hash: info.hash };
  }

  async function* list(prefix: string): AsyncIterable<ObjectInfo> {
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken }));
      } catch (err) {
        return rethrowS3Error(err, at);
      }
      for (const c of page.Contents ?? []) {
        if (c.Key === undefined) continue;
        yield { key: c.Key, size: c.Size ?? 0, hash: stripEtag(c.ETag), lastModified: c.LastModified ?? new Date(0) };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async function getObject(key: string) {
    try {
      return await client.send(new GetObjectCommand({ Bucket, Key: key, ...sseCParams(o) }));
    } catch (err) {
      if (isMissingObject(err)) return undefined;
      return rethrowS3Error(err, at);
    }
  }

  return {
    description: `s3://${Bucket}`,
    head,
    list,
    upload,
    uploadFile,
    async putBytes(key, data) {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      await limiter.take(buf.length);
      return putBuffer(key, buf);
    },
    async getBytes(key) {
      const r = await getObject(key);
      return r?.Body ? Buffer.from(await r.Body.transformToByteArray()) : undefined;
    },
    async download(key, options = {}) {
      const r = await getObject(key);
      if (!r?.Body) throw new Error(`no object ${key} in s3://${Bucket}`);
      // transfer_max_bandwidth holds for downloads too (boto3's TransferConfig limits both directions).
      return throttle(r.Body as Readable, options.limiter ?? limiter);
    },
    async downloadToFile(key, path, size, options = {}) {
      const { signal } = options;
      const rangeSize = Math.max(PART_LIMITS.min, o.multipartChunkSize);
      const ranges = Array.from({ length: Math.max(1, Math.ceil(size / rangeSize)) }, (_, i) => i * rangeSize);
      const fh = await open(path, 'w');
      let total: number | undefined;
      let got = 0;
      try {
        // One GET for a small object; a large one in ranges of a part's size, `multipart_max_concurrency` at a time.
        await mapLimit(ranges, ranges.length === 1 ? 1 : Math.max(1, o.multipartConcurrency), async (start) => {
          const end = Math.min(size, start + rangeSize) - 1;
          let r;
          try {
            r = await client.send(new GetObjectCommand({ Bucket, Key: key, ...(ranges.length > 1 ? { Range: `bytes=${start}-${end}` } : {}), ...sseCParams(o) }), { abortSignal: signal });
          } catch (err) {
            if (isMissingObject(err)) throw new Error(`no object ${key} in s3://${Bucket}`);
            return rethrowS3Error(err, at);
          }
          total ??= r.ContentRange ? Number(/\/(\d+)$/.exec(r.ContentRange)?.[1]) : r.ContentLength;
          const out = new PositionedWriter(fh, start);
          for await (const chunk of throttle(r.Body as Readable, options.limiter ?? limiter, signal)) {
            const buf = chunk as Buffer;
            if (out.end + buf.length > end + 1) throw new Error(`download of ${key}: more than the ${size} bytes expected`);
            await out.add(buf);
            got += buf.length;
            options.onProgress?.(got);
          }
          await out.finish();
          if (out.end !== end + 1 && total === size) throw new Error(`download of ${key}: bytes ${start}-${end} ended after ${out.end - start} bytes`);
        });
      } catch (err) {
        if (signal?.aborted) throw uploadAborted(signal, `download of ${key} from s3://${Bucket}`);
        throw err;
      } finally {
        await fh.close();
      }
      return total ?? got;
    },
    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
      } catch (err) {
        if (!isMissingObject(err)) rethrowS3Error(err, at);
      }
    },
    async check() {
      // A one-key listing rather than HeadBucket: HEAD answers carry no error code, so a missing
      // bucket and refused credentials would look alike (versitygw answers 404 to an unknown key).
      try {
        await client.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1 }));
      } catch (err) {
        throw checkFailure(err, at);
      }
    },
    async close() {
      client.destroy();
      streamClient.destroy();
    },
  };
}
