import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { createReadStream, createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  appendFile,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat as statFile,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { DyffError } from '../../domain/errors.js';
import type { Category } from '../../domain/kinds.js';
import { CATEGORIES } from '../../domain/kinds.js';
import type { ObjectInfo, ObjectStore, PutOptions } from '../../ports/object-store.js';

/**
 * Temp files live in a reserved directory inside each category directory: the same filesystem as their target
 * (so rename is atomic even when a category is its own mount), and never inside the key space that `list` walks.
 */
const TMP_DIR = '.dyff-tmp';
const MD5_CACHE_LIMIT = 10_000;
/**
 * Reads of a file `putFile` hashes (one at a time, a shard of megabytes): an 8 MiB shard's `putFile` took 14 ms
 * (median of 16) in chunks of 1 MiB, 20 ms in Node's 64 KiB, its fsync alongside either way.
 */
const HASH_CHUNK_BYTES = 1 << 20;
/** Timestamps are coarse (a kernel tick): a file changed this recently may change again without a new ctime. */
const RACY_MS = 2_000;
const LIST_BATCH = 32;

/** The embedded ObjectStore: `<root>/<category>/<key>`, atomic writes by rename (or link for create-only). */
export class FilesystemObjectStore implements ObjectStore {
  private readonly root: string;
  /** md5 by path, valid only for the same inode, size and times: other processes may rewrite the files. */
  private readonly md5s = new Map<string, { version: string; md5: string }>();

  constructor(opts: { root: string }) {
    this.root = path.resolve(opts.root);
  }

  async put(
    category: Category,
    key: string,
    body: Buffer | string | Readable,
    opts: PutOptions = {},
  ): Promise<ObjectInfo> {
    const { target, tmp } = await this.writePaths(category, key);
    try {
      const md5 = await writeHashed(tmp, body);
      const stats = await statFile(tmp);
      if (opts.ifNotExists) await createOnly(tmp, target, category, key);
      else await rename(tmp, target);
      return { key, size: Number(stats.size), md5, updated: stats.mtime.toISOString() };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * Moves the file into place by rename, so its bytes are not written twice; md5 and fsync run side by side. A file
   * on another filesystem than the store is copied as `put` would, then removed.
   */
  async putFile(category: Category, key: string, file: string): Promise<ObjectInfo> {
    const { target, tmp } = await this.writePaths(category, key);
    try {
      await rename(file, tmp);
    } catch (err) {
      if (errorCode(err) !== 'EXDEV') throw err;
      try {
        return await this.put(category, key, createReadStream(file));
      } finally {
        await rm(file, { force: true });
      }
    }
    try {
      const handle = await open(tmp, 'r');
      let md5: string;
      let stats: BigIntStats;
      try {
        [md5] = await Promise.all([
          digest(
            handle.createReadStream({ start: 0, autoClose: false, highWaterMark: HASH_CHUNK_BYTES }),
            'md5',
          ),
          handle.sync(),
        ]);
        stats = await handle.stat({ bigint: true });
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
      return { key, size: Number(stats.size), md5, updated: stats.mtime.toISOString() };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Where an object goes and a fresh temp path beside it (same filesystem), their directories made. */
  private async writePaths(category: Category, key: string): Promise<{ target: string; tmp: string }> {
    const target = this.localPath(category, key);
    const tmpDir = path.join(this.root, category, TMP_DIR);
    await Promise.all([mkdir(tmpDir, { recursive: true }), mkdir(path.dirname(target), { recursive: true })]);
    return { target, tmp: path.join(tmpDir, `.tmp-${randomBytes(12).toString('hex')}`) };
  }

  async get(category: Category, key: string): Promise<Readable> {
    const handle = await this.openObject(category, key);
    return handle.createReadStream();
  }

  async getBuffer(category: Category, key: string): Promise<Buffer> {
    try {
      return await readFile(this.localPath(category, key));
    } catch (err) {
      throw isMissing(err) ? notFound(category, key) : err;
    }
  }

  async stat(category: Category, key: string): Promise<ObjectInfo | undefined> {
    const file = this.localPath(category, key);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    // Size and md5 come from the same open inode, so a concurrent overwrite cannot mix two versions.
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) return undefined;
      let md5 = this.md5s.get(file)?.version === versionOf(stats) ? this.md5s.get(file)?.md5 : undefined;
      if (md5 === undefined) {
        md5 = await digest(handle.createReadStream({ start: 0, autoClose: false }), 'md5');
        this.remember(file, stats, md5);
      }
      return { key, size: Number(stats.size), md5, updated: stats.mtime.toISOString() };
    } finally {
      await handle.close();
    }
  }

  async list(category: Category, prefix: string): Promise<ObjectInfo[]> {
    // A prefix may end mid-segment ("a/b" matches "a/bc"); completing it with one character validates the rest.
    if (prefix !== '') checkKey(`${prefix}x`);
    const dir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys = (await this.walk(category, dir)).filter((key) => key.startsWith(prefix)).sort(byCodeUnit);
    const infos: ObjectInfo[] = [];
    // Batched so that a large listing does not open thousands of files at once.
    for (let i = 0; i < keys.length; i += LIST_BATCH) {
      const batch = await Promise.all(keys.slice(i, i + LIST_BATCH).map((key) => this.stat(category, key)));
      infos.push(...batch.filter((info): info is ObjectInfo => info !== undefined));
    }
    return infos;
  }

  async delete(category: Category, key: string): Promise<void> {
    const file = this.localPath(category, key);
    this.md5s.delete(file);
    try {
      await unlink(file);
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  async append(category: Category, key: string, data: Buffer | string): Promise<void> {
    const file = this.localPath(category, key);
    await mkdir(path.dirname(file), { recursive: true });
    await appendFile(file, data);
  }

  async sha256(category: Category, key: string): Promise<string> {
    return digest((await this.openObject(category, key)).createReadStream(), 'sha256');
  }

  uri(category: Category, key: string): string {
    return pathToFileURL(this.localPath(category, key)).href;
  }

  localPath(category: Category, key: string): string {
    if (!CATEGORIES.includes(category))
      throw new DyffError('InvalidSpec', `unknown category ${JSON.stringify(category)}`);
    checkKey(key);
    return path.join(this.root, category, ...key.split('/'));
  }

  private async openObject(category: Category, key: string): Promise<FileHandle> {
    let handle: FileHandle;
    try {
      handle = await open(this.localPath(category, key), 'r');
    } catch (err) {
      throw isMissing(err) ? notFound(category, key) : err;
    }
    if ((await handle.stat()).isFile()) return handle;
    await handle.close();
    throw notFound(category, key);
  }

  /** Keys of all files under `dir` (a key prefix ending at a segment boundary), excluding temp files. */
  private async walk(category: Category, dir: string): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(path.join(this.root, category, ...(dir === '' ? [] : dir.split('/'))), {
        withFileTypes: true,
      });
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    const keys: string[] = [];
    for (const entry of entries) {
      if (dir === '' && entry.name === TMP_DIR) continue;
      const key = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) keys.push(...(await this.walk(category, key)));
      else if (entry.isFile()) keys.push(key);
    }
    return keys;
  }

  private remember(file: string, stats: BigIntStats, md5: string): void {
    if (Date.now() - Number(stats.ctimeMs) < RACY_MS) return;
    if (this.md5s.size >= MD5_CACHE_LIMIT) this.md5s.clear();
    this.md5s.set(file, { version: versionOf(stats), md5 });
  }
}

/** Refuses keys that could escape the category directory or name something other than one file. */
function checkKey(key: string): void {
  const segments = key.split('/');
  const bad =
    key === '' ||
    key.includes('\\') ||
    key.includes('\0') ||
    segments.some((s) => s === '' || s === '.' || s === '..') ||
    segments[0] === TMP_DIR;
  if (bad) {
    throw new DyffError(
      'InvalidSpec',
      `invalid object key ${JSON.stringify(key)}: keys are relative '/'-separated paths without empty, '.' or '..' segments, backslashes, NUL or a first segment ${TMP_DIR}`,
      { key },
    );
  }
}

async function writeHashed(file: string, body: Buffer | string | Readable): Promise<string> {
  const hash = createHash('md5');
  const source = body instanceof Readable ? body : Readable.from([Buffer.from(body)]);
  await pipeline(
    source,
    async function* (chunks: AsyncIterable<Buffer | string>) {
      for await (const chunk of chunks) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        hash.update(bytes);
        yield bytes;
      }
    },
    createWriteStream(file, { flags: 'wx', flush: true }),
  );
  return hash.digest('hex');
}

/** link() fails if the target exists, so of two concurrent creators exactly one wins. */
async function createOnly(tmp: string, target: string, category: Category, key: string): Promise<void> {
  try {
    await link(tmp, target);
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
    throw new DyffError('AlreadyExists', `object ${category}/${key} already exists`, { category, key });
  }
}

async function digest(stream: Readable, algorithm: 'md5' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const versionOf = (s: BigIntStats): string => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const errorCode = (err: unknown): unknown => (err as NodeJS.ErrnoException | undefined)?.code;

/** ENOTDIR/EISDIR: a key whose path crosses a file, or that names a directory of other keys, is no object. */
const isMissing = (err: unknown): boolean =>
  ['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errorCode(err) as string);

const notFound = (category: Category, key: string): DyffError =>
  new DyffError('NotFound', `no object ${category}/${key}`, { category, key });
