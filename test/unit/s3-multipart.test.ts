import { S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { unlimited } from '../../src/storage/bandwidth-limiter';
import { uploadMultipart } from '../../src/storage/s3-multipart';
import { S3StorageOptions } from '../../src/storage/s3-options';

const MiB = 1024 * 1024;
const options: S3StorageOptions = {
  bucketName: 'b', region: 'us-east-1', forcePathStyle: true,
  multipartThreshold: 5 * MiB, multipartChunkSize: 5 * MiB, multipartConcurrency: 2, sseCKey: 'c2VjcmV0',
};

interface Sent { command: string; input: Record<string, unknown> }

/** A stand-in for S3Client that records commands and answers UploadPart after `partDelayMs`. */
function fakeClient(opts: { failPart?: number; partDelayMs?: number } = {}) {
  const sent: Sent[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const client = {
    config: { requestChecksumCalculation: async () => 'WHEN_SUPPORTED' },
    async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      const command = cmd.constructor.name.replace(/Command$/, '');
      sent.push({ command, input: cmd.input });
      if (command === 'CreateMultipartUpload') return { UploadId: 'u1' };
      if (command !== 'UploadPart') return {};
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, opts.partDelayMs ?? 5));
      inFlight--;
      if (cmd.input.PartNumber === opts.failPart) throw Object.assign(new Error('part failed'), { name: 'InternalError' });
      return { ETag: `"e${String(cmd.input.PartNumber)}"`, ChecksumCRC32: 'crc' };
    },
  };
  return { client: client as unknown as S3Client, sent, maxInFlight: () => maxInFlight };
}

const names = (sent: Sent[]) => sent.map((s) => s.command);

test('parts of exactly the chunk size, at most multipartConcurrency in flight, completed in order with checksums', async () => {
  const f = fakeClient();
  const size = 12 * MiB + 1;
  const body = Readable.from([Buffer.alloc(size - 3), Buffer.alloc(3)]);
  await uploadMultipart({ client: f.client, options, limiter: unlimited }, 'k', body, size);
  const parts = f.sent.filter((s) => s.command === 'UploadPart');
  expect(parts.map((p) => (p.input.Body as Buffer).length)).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 1]);
  expect(parts.every((p) => p.input.SSECustomerKey === 'c2VjcmV0')).toBe(true);
  expect(f.maxInFlight()).toBe(2);
  expect(f.sent[0].input).toMatchObject({ ChecksumAlgorithm: 'CRC32', SSECustomerAlgorithm: 'AES256' });
  const complete = f.sent.find((s) => s.command === 'CompleteMultipartUpload');
  expect(complete?.input.MultipartUpload).toEqual({ Parts: [1, 2, 3].map((n) => ({ PartNumber: n, ETag: `"e${n}"`, ChecksumCRC32: 'crc' })) });
});

test('an object of exactly one chunk is still a multipart upload of one part', async () => {
  const f = fakeClient();
  await uploadMultipart({ client: f.client, options, limiter: unlimited }, 'k', Readable.from([Buffer.alloc(5 * MiB)]), 5 * MiB);
  expect(names(f.sent)).toEqual(['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload']);
});

test('a failed part aborts the multipart upload and rejects with the part\'s error', async () => {
  const f = fakeClient({ failPart: 2 });
  const body = Readable.from([Buffer.alloc(20 * MiB)]);
  await expect(uploadMultipart({ client: f.client, options, limiter: unlimited }, 'k', body, 20 * MiB)).rejects.toThrow('part failed');
  expect(names(f.sent)).toContain('AbortMultipartUpload');
  expect(names(f.sent)).not.toContain('CompleteMultipartUpload');
});

test('a stream shorter than the declared size aborts instead of completing a truncated object', async () => {
  const f = fakeClient();
  await expect(uploadMultipart({ client: f.client, options, limiter: unlimited }, 'k', Readable.from([Buffer.alloc(6 * MiB)]), 7 * MiB))
    .rejects.toThrow(/ended after 6291456 of 7340032 bytes/);
  expect(names(f.sent).slice(-1)).toEqual(['AbortMultipartUpload']);
});
