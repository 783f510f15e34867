import type { Readable } from 'node:stream';
import { DyffError, ErrorType } from '../../domain/errors.js';
import type { ScopedGrant } from '../../domain/grant-scope.js';
import { missingAccess } from '../../domain/grant-scope.js';
import type { Category } from '../../domain/kinds.js';
import type { Access } from '../../domain/step-contract.js';
import type { ObjectInfo, ObjectStore, PutOptions } from '../../ports/object-store.js';

/**
 * An ObjectStore that lets a caller do only what its grants of the step catalogue allow, as GCS IAM would with
 * prefix conditions: on the filesystem and on fake-gcs-server, where nothing else checks, a step that reads or
 * writes outside its grants fails in the tests instead of on a real bucket with a 403.
 *
 * Each call needs an access (see `ACCESS_OF`); a call no grant covers is refused with DyffError `AccessDenied`
 * before it reaches the store, and recorded, so that a caller that swallows the error (a log writer that must not
 * fail its step) still cannot hide it: see `denials`.
 */

/** What each call needs. A put that may replace an object needs overwrite; only `ifNotExists` makes it create-only. */
export const ACCESS_OF = {
  get: ['read'],
  getBuffer: ['read'],
  stat: ['read'],
  sha256: ['read'],
  /** The path is for reading in place (DuckDB). */
  localPath: ['read'],
  list: ['read'],
  putIfNotExists: ['create'],
  put: ['overwrite', 'create'],
  append: ['overwrite', 'create'],
  delete: ['delete'],
} as const satisfies Record<string, readonly Access[]>;
export type Operation = keyof typeof ACCESS_OF;

export interface GrantEnforcingOptions {
  /** The identity named in denials (`evaluation-client`, `dyff-worker`). */
  identity: string;
  grants: readonly ScopedGrant[];
}

export class GrantEnforcingObjectStore implements ObjectStore {
  private readonly denied: string[] = [];
  readonly localPath?: (category: Category, key: string) => string;

  constructor(
    private readonly inner: ObjectStore,
    private readonly opts: GrantEnforcingOptions,
  ) {
    const localPath = inner.localPath?.bind(inner);
    if (localPath)
      this.localPath = (category, key) => {
        this.check('localPath', category, key);
        return localPath(category, key);
      };
  }

  /** Every call refused so far, by message. */
  get denials(): readonly string[] {
    return this.denied;
  }

  private check(op: Operation, category: Category, key: string): void {
    // Every store refuses such a key itself (InvalidSpec naming it), before any object is touched.
    if (op !== 'list' && malformed(key)) return;
    const missing = missingAccess(this.opts.grants, category, key, ACCESS_OF[op]);
    if (missing.length === 0) return;
    const message = `${this.opts.identity} may not ${missing[0]} ${category}/${key} (${op}): no grant covers it (step catalogue)`;
    this.denied.push(message);
    throw new DyffError(ErrorType.AccessDenied, message, {
      identity: this.opts.identity,
      access: missing[0],
      category,
      key,
      operation: op,
    });
  }

  async put(
    category: Category,
    key: string,
    body: Buffer | string | Readable,
    opts?: PutOptions,
  ): Promise<ObjectInfo> {
    this.check(opts?.ifNotExists ? 'putIfNotExists' : 'put', category, key);
    return this.inner.put(category, key, body, opts);
  }

  async putFile(category: Category, key: string, file: string): Promise<ObjectInfo> {
    this.check('put', category, key);
    return this.inner.putFile(category, key, file);
  }

  async get(category: Category, key: string): Promise<Readable> {
    this.check('get', category, key);
    return this.inner.get(category, key);
  }

  async getBuffer(category: Category, key: string): Promise<Buffer> {
    this.check('getBuffer', category, key);
    return this.inner.getBuffer(category, key);
  }

  async stat(category: Category, key: string): Promise<ObjectInfo | undefined> {
    this.check('stat', category, key);
    return this.inner.stat(category, key);
  }

  async list(category: Category, prefix: string): Promise<ObjectInfo[]> {
    this.check('list', category, prefix);
    return this.inner.list(category, prefix);
  }

  async delete(category: Category, key: string): Promise<void> {
    this.check('delete', category, key);
    return this.inner.delete(category, key);
  }

  async append(category: Category, key: string, data: Buffer | string): Promise<void> {
    this.check('append', category, key);
    return this.inner.append(category, key, data);
  }

  async sha256(category: Category, key: string): Promise<string> {
    this.check('sha256', category, key);
    return this.inner.sha256(category, key);
  }

  /** A name, not an access: URIs appear in messages and manifests. */
  uri(category: Category, key: string): string {
    return this.inner.uri(category, key);
  }
}

/** A key no store accepts: empty, absolute, or with an empty, `.` or `..` segment. */
const malformed = (key: string) => key.split('/').some((s) => s === '' || s === '.' || s === '..');
