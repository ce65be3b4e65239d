/**
 * Re-cuts a stream of arbitrary chunks into buffers of a fixed size, the last one shorter. S3
 * multipart uploads need this: the part layout, not the way the source happens to chunk its data,
 * decides the object's ETag.
 */
import { Readable } from 'node:stream';
import { BandwidthLimiter, unlimited } from './bandwidth-limiter';

/**
 * Yields `size`-byte buffers (the last one shorter, none for an empty stream). Every piece read from
 * `body` is first charged to `limiter`, which is how uploads are throttled: what is not read cannot
 * be sent.
 */
export async function* readChunks(
  body: Readable,
  size: number,
  limiter: BandwidthLimiter = unlimited,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  let pieces: Buffer[] = [];
  let buffered = 0;
  for await (const chunk of body) {
    const piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    await limiter.take(piece.length, signal);
    pieces.push(piece);
    buffered += piece.length;
    if (buffered < size) continue;
    const all = Buffer.concat(pieces, buffered);
    let at = 0;
    for (; all.length - at >= size; at += size) yield all.subarray(at, at + size);
    // Copy the small remainder so that it does not keep the big concatenated buffer alive.
    pieces = at < all.length ? [Buffer.from(all.subarray(at))] : [];
    buffered = all.length - at;
  }
  if (buffered > 0) yield Buffer.concat(pieces, buffered);
}

/** Reads a whole stream into one buffer (for objects small enough to go in a single request). */
export async function readAll(body: Readable, limiter: BandwidthLimiter = unlimited, signal?: AbortSignal): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const chunk of body) {
    const piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    await limiter.take(piece.length, signal);
    pieces.push(piece);
  }
  return Buffer.concat(pieces);
}
