/**
 * Smoke test of the real S3-compatible server (versitygw): a multipart upload through lib-storage,
 * read back byte-identical, with AWS's multipart ETag; credentials are enforced.
 */
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { sandbox, uniqueId } from '../support/env';

const MiB = 1024 * 1024;

function s3(secret = sandbox('SANDBOX_S3_SECRET_ACCESS_KEY')): S3Client {
  return new S3Client({
    endpoint: sandbox('SANDBOX_S3_ENDPOINT'), region: sandbox('SANDBOX_S3_REGION'), forcePathStyle: true,
    credentials: { accessKeyId: sandbox('SANDBOX_S3_ACCESS_KEY_ID'), secretAccessKey: secret },
  });
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

test('a 13 MiB object goes up in 3 parts with lib-storage and comes back byte-identical, with a multipart ETag', async () => {
  const client = s3();
  const bucket = sandbox('SANDBOX_S3_BUCKET');
  const key = `smoke/${uniqueId('multipart')}.bin`;
  const data = randomBytes(13 * MiB);
  const partSize = 5 * MiB;
  let partsSeen = 0;
  const upload = new Upload({
    client, partSize, queueSize: 2, leavePartsOnError: false,
    // A stream body, as a real SSTable upload will be: the SDK cannot know the length up front.
    params: { Bucket: bucket, Key: key, Body: Readable.from([data.subarray(0, 7 * MiB), data.subarray(7 * MiB)]) },
  });
  upload.on('httpUploadProgress', (p) => { partsSeen = Math.max(partsSeen, p.part ?? 0); });
  await upload.done();
  expect(partsSeen).toBe(3);

  // AWS's multipart ETag: MD5 of the concatenated part MD5s, then "-<number of parts>".
  const parts = [0, 1, 2].map((i) => md5(data.subarray(i * partSize, (i + 1) * partSize)));
  const expectedEtag = `"${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-3"`;
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  expect(head.ETag).toBe(expectedEtag);
  expect(head.ContentLength).toBe(data.length);

  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const back = Buffer.from(await got.Body!.transformToByteArray());
  expect(back.equals(data)).toBe(true);
  // The server really stored it: versitygw's POSIX backend keeps the object as a plain file.
  expect(readFileSync(join(sandbox('SANDBOX_S3_DATA_DIR'), bucket, key)).equals(data)).toBe(true);
  client.destroy();
});

test('the server refuses a request signed with the wrong secret', async () => {
  const client = s3('not-the-secret');
  await expect(client.send(new HeadObjectCommand({ Bucket: sandbox('SANDBOX_S3_BUCKET'), Key: 'anything' })))
    .rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
  client.destroy();
});
