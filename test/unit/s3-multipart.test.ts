import { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { unlimited } from '../../src/storage/bandwidth-limiter';
import { uploadFileMultipart, uploadMultipart } from '../../src/storage/s3-multipart';
import { S3StorageOptions } from '../../src/storage/s3-options';

const MiB = 1024 * 1024;
const options: S3StorageOptions = {
  bucketName: 'b', region: 'us-east-1', forcePathStyle: true,
  multipartThreshold: 5 * MiB, multipartChunkSize: 5 * MiB, multipartConcurrency: 2, sseCKey: 'c2VjcmV0',
};

interface Sent { command: string; input: Record<string, unknown> }

/** A stand-in for S3Client that records commands and answers UploadPart after `partDelayMs`. */
function fakeClient(opts: { failPart?: number; partDelayMs?: number; failOnce?: number; checksums?: string } = {}) {
  const sent: Sent[] = [];
  const bodies = new Map<number, Buffer[]>();
  let inFlight = 0;
  let maxInFlight = 0;
  const client = {
    config: { requestChecksumCalculation: async () => opts.checksums ?? 'WHEN_SUPPORTED' },
    async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      const command = cmd.constructor.name.replace(/Command$/, '');
      sent.push({ command, input: cmd.input });
      if (command === 'CreateMultipartUpload') return { UploadId: 'u1' };
      if (command !== 'UploadPart') return {};
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const n = cmd.input.PartNumber as number;
      if (cmd.input.Body instanceof Readable) {
        // Read the streamed body, as the HTTP handler would.
        const chunks: Buffer[] = [];
        for await (const c of cmd.input.Body) chunks.push(c as Buffer);
        bodies.set(n, [...(bodies.get(n) ?? []), Buffer.concat(chunks)]);
        if (opts.failOnce === n && bodies.get(n)!.length === 1) {
          inFlight--;
          throw Object.assign(new Error('connection reset'), { name: 'TimeoutError' });
        }
      }
      await new Promise((r) => setTimeout(r, opts.partDelayMs ?? 5));
      inFlight--;
      if (cmd.input.PartNumber === opts.failPart) throw Object.assign(new Error('part failed'), { name: 'InternalError' });
      return { ETag: `"e${String(cmd.input.PartNumber)}"`, ChecksumCRC32: 'crc' };
    },
  };
  return { client: client as unknown as S3Client, sent, bodies, maxInFlight: () => maxInFlight };
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

describe('a file of this machine, read by range', () => {
  const size = 12 * MiB + 7;
  const data = randomBytes(size);
  const file = join(mkdtempSync(join(tmpdir(), 's3-multipart-')), 'f.db');
  writeFileSync(file, data);

  test('each part is a stream of exactly its range of the file; the boto3 layout; no request checksums unless asked', async () => {
    const f = fakeClient({ checksums: 'WHEN_REQUIRED' });
    const etag = await uploadFileMultipart({ client: f.client, options, limiter: unlimited }, 'k', file, size);
    expect(etag).toBeUndefined(); // the stand-in's Complete answers no ETag
    const parts = f.sent.filter((s) => s.command === 'UploadPart');
    expect(parts.map((p) => p.input.ContentLength)).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 7]);
    expect([1, 2, 3].map((n) => f.bodies.get(n)![0].equals(data.subarray((n - 1) * 5 * MiB, Math.min(size, n * 5 * MiB))))).toEqual([true, true, true]);
    expect(f.sent[0].input).not.toHaveProperty('ChecksumAlgorithm');
    expect(f.maxInFlight()).toBe(2);
  });

  test('a part that fails is read again from its own range, not the file from the start', async () => {
    const f = fakeClient({ failOnce: 2 });
    await uploadFileMultipart({ client: f.client, options, limiter: unlimited }, 'k', file, size);
    expect([1, 2, 3].map((n) => f.bodies.get(n)!.length)).toEqual([1, 2, 1]);
    expect(f.bodies.get(2)![1].equals(data.subarray(5 * MiB, 10 * MiB))).toBe(true);
    expect(names(f.sent).slice(-1)).toEqual(['CompleteMultipartUpload']);
  });

  test('a file whose size is not the planned one is refused before anything is created', async () => {
    const f = fakeClient();
    await expect(uploadFileMultipart({ client: f.client, options, limiter: unlimited }, 'k', file, size + 1)).rejects.toThrow(/has 12582919 bytes, not the planned 12582920/);
    expect(f.sent).toEqual([]);
  });
});
