import type { File, FileMetadata } from '@google-cloud/storage';
import { Storage } from '@google-cloud/storage';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DyffError } from '../../domain/errors.js';
import type { Category } from '../../domain/kinds.js';
import { CATEGORIES } from '../../domain/kinds.js';
import type { ObjectInfo, ObjectStore, PutOptions } from '../../ports/object-store.js';

export interface GcsObjectStoreOptions {
  /** Bucket name per category (`dyffctl buckets create` fills these in). */
  buckets: Record<string, string>;
  projectId?: string;
  /** e.g. `http://127.0.0.1:4443` for fake-gcs-server; requests to a custom endpoint carry no credentials. */
  apiEndpoint?: string;
}

/** Bodies up to this size go up in one request; larger ones and streams use a resumable upload. */
const SINGLE_REQUEST_MAX = 8 * 1024 * 1024;
/**
 * Resumable uploads go in chunks of this size (a multiple of 256 KiB), held in memory one at a time. Chunked mode
 * declares the total size only with the last chunk, after the source has ended; a source that fails midway
 * therefore never finalizes the object, and the previous version stays in place.
 */
const CHUNK_SIZE = 8 * 1024 * 1024;
const APPEND_ATTEMPTS = 10;

/** ObjectStore on Google Cloud Storage: one bucket per category, `gs://<bucket>/<key>`. */
export class GcsObjectStore implements ObjectStore {
  private readonly storage: Storage;
  private readonly buckets: Record<string, string>;

  constructor(opts: GcsObjectStoreOptions) {
    this.buckets = { ...opts.buckets };
    // Against an emulator a fixed project stands in, so that the client never asks the GCE metadata server for one.
    const projectId = opts.projectId ?? (opts.apiEndpoint ? 'dyff-local' : undefined);
    this.storage = new Storage({
      ...(projectId ? { projectId } : {}),
      ...(opts.apiEndpoint ? { apiEndpoint: opts.apiEndpoint } : {}),
    });
  }

  async put(category: Category, key: string, body: Buffer | string | Readable, opts: PutOptions = {}) {
    const file = this.file(category, key);
    const size = body instanceof Readable ? undefined : Buffer.byteLength(body);
    const resumable = size === undefined || size > SINGLE_REQUEST_MAX;
    const source = body instanceof Readable ? body : Readable.from([Buffer.from(body)]);
    const sink = file.createWriteStream({
      resumable,
      ...(resumable ? { chunkSize: CHUNK_SIZE } : {}),
      // The library hashes what it sent and deletes the object if GCS stored something else.
      validation: 'md5',
      ...(opts.contentType ? { contentType: opts.contentType } : {}),
      // Generation 0 matches only a missing object: GCS makes the create-only check atomic.
      ...(opts.ifNotExists ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
    });
    try {
      await pipeline(source, sink);
    } catch (err) {
      if (opts.ifNotExists && statusOf(err) === 412) {
        throw new DyffError('AlreadyExists', `object ${this.uri(category, key)} already exists`, {
          category,
          key,
        });
      }
      throw this.translate(err, category, key);
    }
    return toInfo(key, file.metadata);
  }

  async putFile(category: Category, key: string, file: string): Promise<ObjectInfo> {
    try {
      return await this.put(category, key, createReadStream(file));
    } finally {
      await rm(file, { force: true });
    }
  }

  async get(category: Category, key: string): Promise<Readable> {
    const stream = this.file(category, key).createReadStream();
    // The request starts lazily; wait for the first data (or the end of an empty object) so that a missing object
    // rejects here, before the caller has consumed anything.
    await new Promise<void>((resolve, reject) => {
      const done = (err?: unknown) => {
        stream.off('readable', onReadable);
        stream.off('error', onError);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onReadable = () => done();
      const onError = (err: unknown) => {
        stream.destroy();
        done(this.translate(err, category, key));
      };
      stream.once('readable', onReadable);
      stream.once('error', onError);
    });
    return stream;
  }

  async getBuffer(category: Category, key: string): Promise<Buffer> {
    try {
      const [content] = await this.file(category, key).download();
      return content;
    } catch (err) {
      throw this.translate(err, category, key);
    }
  }

  async stat(category: Category, key: string): Promise<ObjectInfo | undefined> {
    try {
      const [metadata] = await this.file(category, key).getMetadata();
      return toInfo(key, metadata);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.translate(err, category, key);
    }
  }

  async list(category: Category, prefix: string): Promise<ObjectInfo[]> {
    // A prefix may end mid-segment ("a/b" matches "a/bc"); completing it with one character validates the rest.
    if (prefix !== '') checkKey(`${prefix}x`);
    const [files] = await this.bucket(category).getFiles({ prefix, autoPaginate: true });
    // GCS lists in byte order of the UTF-8 name; sort by code unit to agree with the other stores.
    return files
      .map((f) => toInfo(f.name, f.metadata))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(category: Category, key: string): Promise<void> {
    try {
      await this.file(category, key).delete({ ignoreNotFound: true });
    } catch (err) {
      throw this.translate(err, category, key);
    }
  }

  /**
   * GCS has no append: read the current generation, write old + new content on the condition that the generation
   * is still the same, and retry when another writer got in between. Meant for logs, which stay small.
   */
  async append(category: Category, key: string, data: Buffer | string): Promise<void> {
    const file = this.file(category, key);
    for (let attempt = 1; ; attempt++) {
      let generation = 0;
      let current: Buffer = Buffer.alloc(0);
      try {
        const [metadata] = await file.getMetadata();
        generation = Number(metadata.generation);
        [current] = await this.bucket(category).file(file.name, { generation }).download();
      } catch (err) {
        // Missing: create it (generation 0). A 404 on the pinned generation means it was just replaced: retry.
        if (statusOf(err) !== 404) throw this.translate(err, category, key);
        if (generation !== 0) {
          if (attempt >= APPEND_ATTEMPTS) throw this.translate(err, category, key);
          continue;
        }
      }
      try {
        await file.save(Buffer.concat([current, Buffer.from(data)]), {
          resumable: false,
          validation: 'md5',
          preconditionOpts: { ifGenerationMatch: generation },
        });
        return;
      } catch (err) {
        if (statusOf(err) !== 412 || attempt >= APPEND_ATTEMPTS) throw this.translate(err, category, key);
        // Lost to another appender: spread the retries so that the losers do not collide again at once.
        await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      }
    }
  }

  async sha256(category: Category, key: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of await this.get(category, key)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  uri(category: Category, key: string): string {
    checkKey(key);
    return `gs://${this.bucketName(category)}/${key}`;
  }

  private bucketName(category: Category): string {
    if (!CATEGORIES.includes(category))
      throw new DyffError('InvalidSpec', `unknown category ${JSON.stringify(category)}`);
    const name = this.buckets[category];
    if (!name) {
      throw new DyffError(
        'InvalidSpec',
        `no GCS bucket configured for category ${category}: run \`dyffctl buckets create --category ${category}\` or set DYFF_GCS_BUCKET_${category.toUpperCase()}`,
        { category },
      );
    }
    return name;
  }

  private bucket(category: Category) {
    return this.storage.bucket(this.bucketName(category));
  }

  private file(category: Category, key: string): File {
    checkKey(key);
    return this.bucket(category).file(key);
  }

  private translate(err: unknown, category: Category, key: string): unknown {
    if (err instanceof DyffError) return err;
    if (statusOf(err) === 404) {
      return new DyffError('NotFound', `no object ${this.uri(category, key)}`, { category, key });
    }
    return err;
  }
}

function toInfo(key: string, metadata: FileMetadata): ObjectInfo {
  const info: ObjectInfo = {
    key,
    size: Number(metadata.size ?? 0),
    // GCS reports md5 as base64; the port (and the other stores) use hex.
    md5: Buffer.from(String(metadata.md5Hash ?? ''), 'base64').toString('hex'),
  };
  if (metadata.updated) info.updated = metadata.updated;
  return info;
}

/** HTTP status of a GCS error (ApiError has `code`; the resumable uploader sometimes only `status`). */
function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } } | undefined;
  for (const value of [e?.code, e?.status, e?.response?.status]) if (typeof value === 'number') return value;
  return undefined;
}

/**
 * The same key rules as the other stores (relative, '/'-separated, no empty, '.' or '..' segments, no backslash
 * or NUL), plus GCS's own: no control characters, at most 1024 bytes of UTF-8.
 */
function checkKey(key: string): void {
  const bad =
    key === '' ||
    key.includes('\\') ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/.test(key) ||
    Buffer.byteLength(key) > 1024 ||
    key.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad) {
    throw new DyffError(
      'InvalidSpec',
      `invalid object key ${JSON.stringify(key)}: keys are relative '/'-separated paths without empty, '.' or '..' segments, backslashes or control characters, at most 1024 bytes`,
      { key },
    );
  }
}
