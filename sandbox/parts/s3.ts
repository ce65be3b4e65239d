/**
 * The S3-compatible server: versitygw with its POSIX backend. Each bucket is a directory under
 * `<sandbox>/s3/data` and each object a plain file, so tests can look at the bytes on disk.
 * The root credentials are made once per sandbox and kept in an AWS credentials file, which is
 * also what medusa.ini's `key_file` points at.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertPortFree, startDaemon, Started, waitReady } from '../proc';
import { SandboxSettings, versitygwBin } from '../settings';

export const S3_HOST = '127.0.0.1';
export const S3_BUCKET = 'medusa-sandbox';
export const S3_REGION = 'us-east-1';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  file: string;
}

export function s3Dir(s: SandboxSettings): string {
  return join(s.dir, 's3');
}

export function s3Endpoint(s: SandboxSettings): string {
  return `http://${S3_HOST}:${s.s3Port}`;
}

/** The sandbox's S3 keys, created on first use and stable afterwards. */
export function s3Credentials(s: SandboxSettings): S3Credentials {
  const file = join(s3Dir(s), 'credentials');
  if (!existsSync(file)) {
    mkdirSync(s3Dir(s), { recursive: true });
    const key = `sandbox${randomBytes(4).toString('hex')}`;
    const secret = randomBytes(24).toString('base64url');
    writeFileSync(file, `[default]\naws_access_key_id = ${key}\naws_secret_access_key = ${secret}\n`, { mode: 0o600 });
  }
  const text = readFileSync(file, 'utf8');
  const pick = (k: string) => new RegExp(`^${k}\\s*=\\s*(\\S+)`, 'm').exec(text)?.[1] ?? '';
  return { accessKeyId: pick('aws_access_key_id'), secretAccessKey: pick('aws_secret_access_key'), file };
}

export async function startS3(s: SandboxSettings, track: (p: Started) => void): Promise<void> {
  await assertPortFree(S3_HOST, s.s3Port, 'S3 server', 'SANDBOX_S3_PORT');
  const creds = s3Credentials(s);
  const data = join(s3Dir(s), 'data');
  if (!existsSync(data)) mkdirSync(data, { recursive: true });
  const p = startDaemon({
    part: 'S3 server (versitygw)',
    command: versitygwBin(s),
    args: ['--port', `${S3_HOST}:${s.s3Port}`, '--health', '/health', 'posix', data],
    env: { ...process.env, ROOT_ACCESS_KEY: creds.accessKeyId, ROOT_SECRET_KEY: creds.secretAccessKey },
    log: join(s3Dir(s), 'versitygw.log'),
  });
  track(p);
  await waitReady(p, async () => (await fetch(`${s3Endpoint(s)}/health`)).ok, 30_000);
  if (!existsSync(join(data, S3_BUCKET))) {
    const client = new S3Client({
      endpoint: s3Endpoint(s), region: S3_REGION, forcePathStyle: true,
      credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: S3_BUCKET }));
    } finally {
      client.destroy();
    }
  }
}
