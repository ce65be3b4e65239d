/**
 * Turning AWS SDK failures into the errors the rest of the code acts on. Classification looks at the
 * error's `name`, `code` and HTTP status rather than `instanceof`, because jest (and Temporal's
 * workflow sandbox) load modules in separate realms where SDK classes are not the same objects, and
 * because HEAD responses carry no error body, so the SDK can only name them after the status.
 */
import { StorageConfigError } from './storage';

/** Where a request went, for messages: `bucket medusa-x … at http://127.0.0.1:7070`. */
export interface S3Place {
  bucket: string;
  /** The endpoint URL, or a description such as `AWS S3 (eu-west-1)`. */
  endpoint: string;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const shape = (err: unknown): SdkErrorShape => (typeof err === 'object' && err !== null ? err : {});
const statusOf = (err: unknown) => shape(err).$metadata?.httpStatusCode;

// XAdminUserNotFound is versitygw's answer (a 404!) to an access key it does not know.
const CREDENTIAL_ERRORS = new Set([
  'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'TokenRefreshRequired', 'XAdminUserNotFound',
]);
const ACCESS_ERRORS = new Set(['AccessDenied', 'AllAccessDisabled', 'AccountProblem']);
const REGION_ERRORS = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError']);

/** The object (not the bucket) does not exist: HEAD answers a bare 404, GET names it NoSuchKey. */
export function isMissingObject(err: unknown): boolean {
  const { name } = shape(err);
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(err) === 404 && name !== 'NoSuchBucket');
}

/**
 * A StorageConfigError with one line naming the bucket and endpoint when the failure is one that
 * retrying cannot fix, else undefined.
 */
export function configErrorFor(err: unknown, at: S3Place): StorageConfigError | undefined {
  const { name = '' } = shape(err);
  const status = statusOf(err);
  const where = `bucket ${at.bucket} at ${at.endpoint}`;
  if (name === 'NoSuchBucket') return new StorageConfigError(`bucket ${at.bucket} does not exist at ${at.endpoint}`);
  if (CREDENTIAL_ERRORS.has(name)) return new StorageConfigError(`S3 refused the credentials for ${where} (${name})`);
  if (ACCESS_ERRORS.has(name)) return new StorageConfigError(`S3 denied access to ${where} (${name})`);
  if (REGION_ERRORS.has(name) || status === 301) {
    return new StorageConfigError(`${where}: wrong region or addressing style (${name || `HTTP ${status}`})`);
  }
  // A HEAD has no error body, so a refusal arrives as a nameless 403.
  if (status === 403) return new StorageConfigError(`S3 refused the credentials or access for ${where} (HTTP 403)`);
  if (name === 'CredentialsProviderError') return new StorageConfigError(`no S3 credentials found for ${where}: ${firstLine(shape(err).message)}`);
  return undefined;
}

/** Rethrows `err` as a StorageConfigError when it is one, else unchanged (so it stays retryable). */
export function rethrowS3Error(err: unknown, at: S3Place): never {
  throw configErrorFor(err, at) ?? err;
}

/**
 * The one-line failure of `check()`: configuration problems as StorageConfigError, an unreachable
 * endpoint as a plain Error (it may come back, so it stays retryable), anything else with its name.
 */
export function checkFailure(err: unknown, at: S3Place): Error {
  const config = configErrorFor(err, at);
  if (config) return config;
  const { name, code, message } = shape(err);
  if (statusOf(err) === 404) return new StorageConfigError(`bucket ${at.bucket} does not exist at ${at.endpoint}`);
  // The code may survive only in the message: the SDK's retry layer rebuilds errors it does not
  // recognise as Errors (under jest, Node's socket errors come from another realm) from their text.
  const network = [code, name].find((c) => c !== undefined && NETWORK_CODES.has(c))
    ?? [...NETWORK_CODES].find((c) => new RegExp(`\\b${c}\\b`).test(message ?? ''));
  if (network) return new Error(`cannot reach S3 endpoint ${at.endpoint}: ${network}`, { cause: err });
  const status = statusOf(err);
  const what = [name, status !== undefined ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  return new Error(`S3 check of bucket ${at.bucket} at ${at.endpoint} failed (${what}): ${firstLine(message)}`, { cause: err });
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0].trim();
}
