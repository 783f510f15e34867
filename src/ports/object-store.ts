import type { Readable } from 'node:stream';
import type { Category } from '../domain/kinds.js';

export interface ObjectInfo {
  key: string;
  size: number;
  /** Hex md5 of the content. */
  md5: string;
  updated?: string;
}

export interface PutOptions {
  /** Fail with DyffError `AlreadyExists` if the key exists (atomic create). */
  ifNotExists?: boolean;
  contentType?: string;
}

/**
 * Objects in one bucket (or directory) per category. Keys are `/`-separated relative paths; a key with an empty
 * segment, `.` or `..` is refused. Writes are atomic: a reader sees the old object or the whole new one.
 *
 * Errors: DyffError `NotFound` for a missing key on read, `AlreadyExists` for a create-only write that lost.
 */
export interface ObjectStore {
  put(
    category: Category,
    key: string,
    body: Buffer | string | Readable,
    opts?: PutOptions,
  ): Promise<ObjectInfo>;
  /**
   * Puts a local file's content under `key` and takes the file: it is gone once this resolves. A local store moves
   * it into place on the same filesystem instead of writing its bytes a second time.
   */
  putFile(category: Category, key: string, file: string): Promise<ObjectInfo>;
  /** A stream of the object; rejects with NotFound before any data if it is missing. */
  get(category: Category, key: string): Promise<Readable>;
  getBuffer(category: Category, key: string): Promise<Buffer>;
  stat(category: Category, key: string): Promise<ObjectInfo | undefined>;
  /** All objects whose key starts with `prefix`, sorted by key. */
  list(category: Category, prefix: string): Promise<ObjectInfo[]>;
  delete(category: Category, key: string): Promise<void>;
  /** Append to a log-like object, creating it if needed (not atomic with concurrent appenders). */
  append(category: Category, key: string, data: Buffer | string): Promise<void>;
  /** sha256 of an object's content, hex. */
  sha256(category: Category, key: string): Promise<string>;
  /** A URI naming the object for humans and for steps (`file:///…`, `gs://bucket/key`). */
  uri(category: Category, key: string): string;
  /** A local filesystem path for the object when the store is local, so that DuckDB can read it in place. */
  localPath?(category: Category, key: string): string;
}
