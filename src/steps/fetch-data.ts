import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ErrorType } from '../domain/errors.js';
import type { DataSourceSpec } from '../domain/specs.js';
import type { ObjectInfo } from '../ports/object-store.js';
import type { StepContext } from './context.js';
import { invalidInput } from './errors.js';
import { downloadAttempt } from './fetch/download.js';
import type { FileDigest } from './fetch/hash.js';
import { hashFile } from './fetch/hash.js';
import { DEFAULT_RETRY, withRetry } from './fetch/http.js';
import type { SourceFile } from './fetch/sources.js';
import { listSourceFiles } from './fetch/sources.js';
import { ByteProgress, mapPool, once } from './fetch/util.js';
import type { RawDataManifest, RawFile } from './manifests.js';
import {
  RawDataManifest as RawDataManifestSchema,
  manifestKey,
  rawFileKey,
  rawFilesPrefix,
} from './manifests.js';

export interface FetchDataInput {
  /** The Dataset id: files go to `rawdata/<id>/files/`, the manifest to `rawdata/<id>/manifest.json`. */
  id: string;
  source: DataSourceSpec;
}

/** Files fetched at once: enough to hide latency, few enough not to hammer a server; local copies wait on fsync. */
const CONCURRENCY = { http: 4, local: 16 } as const;

/**
 * The fetch-data step: copies every file of a data source into the object store, verified, then writes the
 * manifest. Rerunnable: complete files are skipped, partial downloads resume, stale files are removed.
 */
export async function fetchData(ctx: StepContext, { id, source }: FetchDataInput): Promise<RawDataManifest> {
  const { log, objectStore: store, signal } = ctx;
  const retry = ctx.retry ?? DEFAULT_RETRY;
  const maxBytes = Math.min(source.maxFileBytes ?? Infinity, ctx.limits.maxFileBytes);
  const files = await listSourceFiles(source, { log, retry, signal });
  for (const f of files) {
    if (f.size !== undefined && f.size > maxBytes) {
      throw invalidInput(
        `${f.path}: ${f.size} bytes is more than the limit of ${maxBytes} bytes (maxFileBytes)`,
      );
    }
  }
  log.info(`fetch ${files.length} file(s) from ${describe(source)}`);

  const previous = await readManifest(ctx, id);
  const previousEntries = new Map(
    previous && isDeepStrictEqual(previous.source, source) ? previous.files.map((f) => [f.path, f]) : [],
  );
  // The old manifest goes before the first change, so it never describes files that are being replaced.
  const invalidateManifest = once(() => store.delete('rawdata', manifestKey(id)));
  const progress = new ByteProgress(log, files);
  const workDir = join(ctx.workDir, id);

  const fetchOne = async (f: SourceFile): Promise<RawFile> => {
    signal?.throwIfAborted();
    const key = rawFileKey(id, f.path);
    const local = f.from.kind === 'local' ? await hashFile(f.from.file) : undefined;
    if (local && local.size > maxBytes) {
      throw invalidInput(
        `${f.path}: ${local.size} bytes is more than the limit of ${maxBytes} bytes (maxFileBytes)`,
      );
    }
    const existing = await store.stat('rawdata', key);
    const complete =
      existing && (await completeEntry(ctx, key, existing, f, local, previousEntries.get(f.path)));
    if (complete) {
      log.info(`skip ${f.path} (already complete)`);
      progress.finish(f.path, complete.size);
      return complete;
    }
    if (f.from.kind === 'local') {
      await invalidateManifest();
      const info = await store.put('rawdata', key, createReadStream(f.from.file));
      if (info.md5 !== local!.md5)
        throw new Error(`${f.from.file} changed while it was copied; rerun the fetch`);
      progress.finish(f.path, info.size);
      return { path: f.path, ...local! };
    }
    const url = f.from.url;
    const partial = join(workDir, `${f.path}.partial`);
    await withRetry(
      f.path,
      () =>
        downloadAttempt({
          url,
          path: f.path,
          partial,
          maxBytes,
          signal,
          onStart: ({ resumedFrom, restarted }) => {
            if (restarted) log.warn(`${url} ignored the Range request; downloading ${f.path} from the start`);
            else if (resumedFrom > 0) log.info(`resume ${f.path} from byte ${resumedFrom}`);
            else log.info(`download ${f.path} from ${url}`);
          },
          onBytes: (bytes, total) => progress.update(f.path, bytes, total),
        }),
      { policy: retry, log, signal },
    );
    const digest = await verify(partial, f, url);
    await invalidateManifest();
    const info = await store.put('rawdata', key, createReadStream(partial));
    if (info.md5 !== digest.md5) throw new Error(`${partial} changed while it was stored; rerun the fetch`);
    await rm(partial, { force: true });
    progress.finish(f.path, digest.size);
    return { path: f.path, ...digest };
  };

  const entries = (
    await mapPool(files, CONCURRENCY[source.kind === 'local' ? 'local' : 'http'], fetchOne)
  ).sort((a, b) => (a.path < b.path ? -1 : 1));
  const keep = new Set(entries.map((e) => rawFileKey(id, e.path)));
  for (const stale of (await store.list('rawdata', rawFilesPrefix(id))).filter((o) => !keep.has(o.key))) {
    await invalidateManifest();
    await store.delete('rawdata', stale.key);
    log.info(`remove ${stale.key.slice(rawFilesPrefix(id).length)} (no longer in the source)`);
  }
  const manifest: RawDataManifest = { source, files: entries, createdAt: new Date().toISOString() };
  await store.put('rawdata', manifestKey(id), JSON.stringify(manifest, null, 2), {
    contentType: 'application/json',
  });
  await rm(workDir, { recursive: true, force: true });
  progress.report();
  log.info(
    `fetched ${entries.length} file(s), ${progress.totalBytes()} bytes, into rawdata/${rawFilesPrefix(id)}`,
  );
  return manifest;
}

function describe(source: DataSourceSpec): string {
  if (source.kind === 'url') return source.url;
  if (source.kind === 'zenodo') return `zenodo record ${source.record}`;
  return source.path;
}

async function readManifest(ctx: StepContext, id: string): Promise<RawDataManifest | undefined> {
  const info = await ctx.objectStore.stat('rawdata', manifestKey(id));
  if (!info) return undefined;
  const parsed = RawDataManifestSchema.safeParse(
    JSON.parse((await ctx.objectStore.getBuffer('rawdata', manifestKey(id))).toString('utf8')),
  );
  return parsed.success ? parsed.data : undefined;
}

/**
 * The manifest entry for a stored object, if it already holds the file the source offers: size and checksums
 * match what the source states (or, for a URL without a checksum, what the last complete fetch recorded).
 */
async function completeEntry(
  ctx: StepContext,
  key: string,
  existing: ObjectInfo,
  f: SourceFile,
  local: FileDigest | undefined,
  previous: RawFile | undefined,
): Promise<RawFile | undefined> {
  if (local) {
    return existing.size === local.size && existing.md5 === local.md5
      ? { path: f.path, ...local }
      : undefined;
  }
  const { md5, sha256 } = f.expected;
  if (f.size !== undefined && existing.size !== f.size) return undefined;
  if (md5 === undefined && sha256 === undefined) {
    const same = previous && previous.size === existing.size && previous.md5 === existing.md5;
    return same ? previous : undefined;
  }
  if (md5 !== undefined && existing.md5 !== md5) return undefined;
  const known = previous?.md5 === existing.md5 ? previous.sha256 : undefined;
  const storedSha256 = known ?? (await ctx.objectStore.sha256('rawdata', key));
  if (sha256 !== undefined && storedSha256 !== sha256) return undefined;
  return { path: f.path, size: existing.size, md5: existing.md5, sha256: storedSha256 };
}

/** Hash the whole download; a mismatch deletes it, so the next run starts clean instead of resuming garbage. */
async function verify(partial: string, f: SourceFile, url: string): Promise<FileDigest> {
  const digest = await hashFile(partial);
  const mismatch = (what: string, expected: string | number, got: string | number) =>
    invalidInput(
      `${f.path}: ${what} mismatch for ${url}: expected ${expected}, got ${got}`,
      ErrorType.ChecksumMismatch,
      { url, path: f.path },
    );
  let err: Error | undefined;
  if (f.size !== undefined && digest.size !== f.size) err = mismatch('size', f.size, digest.size);
  else if (f.expected.md5 && digest.md5 !== f.expected.md5)
    err = mismatch('md5 checksum', f.expected.md5, digest.md5);
  else if (f.expected.sha256 && digest.sha256 !== f.expected.sha256) {
    err = mismatch('sha256 checksum', f.expected.sha256, digest.sha256);
  }
  if (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return digest;
}
