import { Readable } from 'node:stream';
import { readChunks } from '../../src/storage/chunk-reader';
import { checkFailure, configErrorFor, isMissingObject } from '../../src/storage/s3-errors';
import { createParams, isMultipart, partSizeFor, PART_LIMITS, sseCParams, stripEtag } from '../../src/storage/s3-options';
import { StorageConfigError } from '../../src/storage/storage';

const MiB = 1024 * 1024;
const at = { bucket: 'medusa-x', endpoint: 'http://127.0.0.1:7070' };
const sdkError = (name: string, status?: number, extra: object = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });

test('multipart from the threshold up (s3transfer: size >= threshold), never for an empty object', () => {
  expect(isMultipart(20 * MiB - 1, 20 * MiB)).toBe(false);
  expect(isMultipart(20 * MiB, 20 * MiB)).toBe(true);
  expect(isMultipart(0, 0)).toBe(false);
});

test('part size: the chunk size, doubled past 10,000 parts, held within 5 MiB..5 GiB (boto3\'s ChunksizeAdjuster)', () => {
  expect(partSizeFor(30 * MiB, 50 * MiB)).toBe(50 * MiB);
  expect(partSizeFor(12 * MiB, 1 * MiB)).toBe(PART_LIMITS.min);
  expect(partSizeFor(10_001 * 8 * MiB, 8 * MiB)).toBe(16 * MiB);
  expect(partSizeFor(10, 6 * 1024 * MiB)).toBe(PART_LIMITS.max);
});

test('ETags lose their quotes; encryption and storage class parameters', () => {
  expect(stripEtag('"abc-2"')).toBe('abc-2');
  expect(stripEtag(undefined)).toBeNull();
  const base = { bucketName: 'b', region: 'r', forcePathStyle: true, multipartThreshold: 1, multipartChunkSize: 1, multipartConcurrency: 1 };
  expect(createParams(base)).toEqual({});
  expect(createParams({ ...base, kmsKeyId: 'k', storageClass: 'STANDARD_IA' }))
    .toEqual({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'k', StorageClass: 'STANDARD_IA' });
  expect(sseCParams({ ...base, sseCKey: 'a2V5' })).toEqual({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: 'a2V5' });
});

test('errors are classified by name and status: config problems, missing objects, the rest untouched', () => {
  expect(configErrorFor(sdkError('NoSuchBucket', 404), at)?.message).toBe('bucket medusa-x does not exist at http://127.0.0.1:7070');
  expect(configErrorFor(sdkError('SignatureDoesNotMatch', 403), at)?.message).toMatch(/^S3 refused the credentials for bucket medusa-x/);
  expect(configErrorFor(sdkError('AccessDenied', 403), at)).toBeInstanceOf(StorageConfigError);
  expect(configErrorFor(sdkError('Unknown', 403), at)).toBeInstanceOf(StorageConfigError);
  expect(configErrorFor(sdkError('InternalError', 500), at)).toBeUndefined();
  expect(isMissingObject(sdkError('NotFound', 404))).toBe(true);
  expect(isMissingObject(sdkError('NoSuchKey', 404))).toBe(true);
  expect(isMissingObject(sdkError('NoSuchBucket', 404))).toBe(false);
});

test('check failures are one line; an unreachable endpoint stays a plain (retryable) error', () => {
  const refused = checkFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), at);
  expect(refused).not.toBeInstanceOf(StorageConfigError);
  expect(refused.message).toBe('cannot reach S3 endpoint http://127.0.0.1:7070: ECONNREFUSED');
  expect(checkFailure(sdkError('NotFound', 404), at)).toBeInstanceOf(StorageConfigError);
  expect(checkFailure(sdkError('Weird', 500, { message: 'line one\nline two' }), at).message).not.toContain('\n');
});

test('readChunks re-cuts any chunking into fixed-size buffers, the last one shorter', async () => {
  const data = Buffer.from(Array.from({ length: 23 }, (_, i) => i));
  const source = Readable.from([data.subarray(0, 1), data.subarray(1, 12), data.subarray(12, 13), data.subarray(13)]);
  const out: Buffer[] = [];
  for await (const c of readChunks(source, 5)) out.push(c);
  expect(out.map((c) => c.length)).toEqual([5, 5, 5, 5, 3]);
  expect(Buffer.concat(out).equals(data)).toBe(true);
  const none: Buffer[] = [];
  for await (const c of readChunks(Readable.from([]), 5)) none.push(c);
  expect(none).toEqual([]);
});
