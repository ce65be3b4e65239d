/**
 * The local adapter of the Storage port (Medusa's `storage_provider = local`): object `key` is the
 * file `<basePath>/<bucketName>/<key>`, so a bucket written here can be read by Python Medusa.
 *
 * Hashes: writes report the hex MD5 computed while writing, as Medusa's local storage does. `head`
 * and `list` report null, because the MD5 of a file is only known by reading all of it. Medusa's
 * listing reports no hash either, and its local storage compares objects by size only.
 */
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { access, copyFile, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { uploadAborted } from './abort';
import { throttle, unlimited } from './bandwidth-limiter';
import { isGone, keyPath, walk, writeAtomically } from './local-files';
import { ObjectInfo, Storage, StorageConfigError, UploadOptions } from './storage';

/** Medusa's `[storage] base_path` and `bucket_name`. */
export interface LocalStorageOptions {
  /** Medusa's `base_path`: must exist; the bucket directory under it is created by `check()`. */
  basePath: string;
  bucketName: string;
}

/** A Storage in the directory `<basePath>/<bucketName>`. */
export function createLocalStorage(o: LocalStorageOptions): Storage {
  const base = resolve(o.basePath);
  const root = resolve(base, o.bucketName);
  const description = `local:${root}`;
  const pathOf = (key: string) => keyPath(root, key);

  async function head(key: string): Promise<ObjectInfo | undefined> {
    const st = await stat(pathOf(key)).catch((err: unknown) => (isGone(err) ? undefined : Promise.reject(err)));
    return st?.isFile() ? { key, size: st.size, hash: null, lastModified: new Date(st.mtimeMs) } : undefined;
  }

  async function write(key: string, body: Readable, size: number, options: UploadOptions = {}): Promise<ObjectInfo> {
    const path = pathOf(key);
    let md5: string;
    try {
      ({ md5 } = await writeAtomically(path, options.limiter ? throttle(body, options.limiter, options.signal) : body, size, options.signal, options.onProgress));
    } catch (err) {
      throw options.signal?.aborted ? uploadAborted(options.signal, `upload of ${key} to ${description}`) : err;
    }
    const st = await stat(path);
    return { key, size: st.size, hash: md5, lastModified: new Date(st.mtimeMs) };
  }

  return {
    description,
    head,
    async *list(prefix) {
      for await (const f of walk(root, prefix)) yield { key: f.key, size: f.size, hash: null, lastModified: new Date(f.mtimeMs) };
    },
    putBytes(key, data) {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      return write(key, Readable.from([buf]), buf.length);
    },
    upload: write,
    async uploadFile(key, path, size, options) {
      const actual = (await stat(path)).size;
      if (actual !== size) throw new Error(`upload of ${key}: ${path} has ${actual} bytes, not the planned ${size}`);
      const info = await write(key, createReadStream(path, { highWaterMark: 1024 * 1024 }), size, options);
      return { size: info.size, hash: info.hash };
    },
    async getBytes(key) {
      try {
        return await readFile(pathOf(key));
      } catch (err) {
        if (isGone(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
        throw err;
      }
    },
    async download(key, options = {}) {
      // Opened here so that a missing object rejects this call rather than failing the stream later.
      const fh = await open(pathOf(key), 'r').catch((err: unknown) => {
        throw isGone(err) ? new Error(`no object ${key} in ${description}`) : err;
      });
      return options.limiter ? throttle(fh.createReadStream(), options.limiter) : fh.createReadStream();
    },
    async downloadToFile(key, path, size, options) {
      const st = await stat(pathOf(key)).catch((err: unknown) => {
        throw isGone(err) ? new Error(`no object ${key} in ${description}`) : err;
      });
      if (st.size !== size) return st.size;
      options?.signal?.throwIfAborted();
      if (options?.limiter && options.limiter !== unlimited) {
        // Throttled: streamed, so transfer_max_bandwidth holds here as on S3.
        await pipeline(throttle(createReadStream(pathOf(key), { highWaterMark: 1024 * 1024 }), options.limiter, options.signal), createWriteStream(path), { signal: options.signal });
      } else {
        await copyFile(pathOf(key), path);
      }
      options?.onProgress?.(size);
      return st.size;
    },
    async delete(key) {
      // force: a missing object is not an error, as on S3.
      await rm(pathOf(key), { force: true });
    },
    async check() {
      const baseStat = await stat(base).catch(() => undefined);
      if (!baseStat?.isDirectory()) {
        throw new StorageConfigError(`local storage base_path ${base} does not exist or is not a directory`);
      }
      // Like Medusa, the bucket directory is created on demand; unlike Medusa, not its parents, so
      // a mistyped base_path fails here instead of silently starting a new tree.
      await mkdir(root).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw new StorageConfigError(`cannot create the bucket directory ${root}: ${err.code ?? err.message}`);
      });
      if (!(await stat(root)).isDirectory()) throw new StorageConfigError(`the bucket path ${root} is not a directory`);
      await access(root, constants.W_OK | constants.X_OK).catch(() => {
        throw new StorageConfigError(`the bucket directory ${root} is not writable`);
      });
    },
    async close() {
      // Nothing is held open between calls.
    },
  };
}
