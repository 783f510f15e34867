import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { DyffError, ErrorType } from '../domain/errors.js';
import type { ModelSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { invalidInput } from './errors.js';
import { downloadAttempt } from './fetch/download.js';
import type { FileDigest } from './fetch/hash.js';
import { hashFile } from './fetch/hash.js';
import { DEFAULT_RETRY, withRetry } from './fetch/http.js';
import { ByteProgress, mapPool, once } from './fetch/util.js';
import type { HubAccess } from './fetch/hub-access.js';
import { hubAccessFromEnv, withSpecToken } from './fetch/hub-access.js';
import type { ModelFileEntry } from './fetch-model/manifest.js';
import { ModelManifest, modelFileKey, modelFilesPrefix, modelManifestKey } from './fetch-model/manifest.js';
import type { ModelSourceFile } from './fetch-model/sources.js';
import { listModelFiles } from './fetch-model/sources.js';
import { checkGlob } from './patterns.js';

export interface FetchModelInput {
  /** The Model id: files go to `models/<id>/files/`, the manifest to `models/<id>/manifest.json`. */
  id: string;
  source: ModelSpec['source'];
  /** @default from HF_ENDPOINT and HF_TOKEN */
  hub?: HubAccess;
}

/** Model files are few and large: a handful at once fills a link without hammering the Hub. */
const CONCURRENCY = 4;

/**
 * The fetch-model step: every file of a model source into the object store, verified (sha256 for the Hub's LFS
 * files, the spec's checksums for URLs), then the manifest, last. Rerunnable: complete files are kept, partial
 * downloads resume with Range requests, files no longer in the source are removed.
 */
export async function fetchModel(ctx: StepContext, input: FetchModelInput): Promise<ModelManifest> {
  const { id, source } = input;
  const { log, objectStore: store, signal } = ctx;
  const retry = ctx.retry ?? DEFAULT_RETRY;
  const maxBytes = ctx.limits.maxFileBytes;
  if (source.kind === 'huggingFaceHub') {
    for (const [field, list] of [
      ['allowPatterns', source.allowPatterns],
      ['ignorePatterns', source.ignorePatterns],
    ] as const) {
      list?.forEach((p, i) => checkGlob(p, `spec.source.${field}[${i}]`, ctx.limits.maxPatternLength));
    }
  }
  const hub = await withSpecToken(
    input.hub ?? hubAccessFromEnv(),
    source.kind === 'huggingFaceHub' ? source.token : undefined,
    ctx.secrets,
  );
  const listing = await listModelFiles(source, { ...ctx.sources, hub, log, retry, signal });
  for (const f of listing.files) {
    if (f.size !== undefined && f.size > maxBytes) {
      throw invalidInput(
        `${f.path}: ${f.size} bytes is more than the limit of ${maxBytes} bytes (maxFileBytes)`,
      );
    }
  }
  log.info(
    `fetch ${listing.files.length} model file(s) from ${describe(source)}${listing.commit ? ` at ${listing.commit}` : ''}`,
  );

  const previous = await readModelManifest(ctx, id);
  const reusable = new Map(
    previous && isDeepStrictEqual(previous.source, source) && previous.commit === listing.commit
      ? previous.files.map((f) => [f.path, f])
      : [],
  );
  const invalidateManifest = once(() => store.delete('models', modelManifestKey(id)));
  const progress = new ByteProgress(log, listing.files);
  const workDir = join(ctx.workDir, id);

  const fetchOne = async (f: ModelSourceFile): Promise<ModelFileEntry> => {
    signal?.throwIfAborted();
    const key = modelFileKey(id, f.path);
    const local = f.from.kind === 'local' ? await hashFile(f.from.file) : undefined;
    if (local && local.size > maxBytes) {
      throw invalidInput(
        `${f.path}: ${local.size} bytes is more than the limit of ${maxBytes} bytes (maxFileBytes)`,
      );
    }
    const complete = await storedEntry(ctx, key, f, local ?? reusable.get(f.path));
    if (complete) {
      log.info(`skip ${f.path} (already complete)`);
      progress.finish(f.path, complete.size);
      return complete;
    }
    await invalidateManifest();
    if (f.from.kind === 'local') {
      const info = await store.put('models', key, createReadStream(f.from.file));
      if (info.md5 !== local!.md5)
        throw new Error(`${f.from.file} changed while it was copied; rerun the fetch`);
      progress.finish(f.path, info.size);
      return { path: f.path, ...local! };
    }
    const partial = join(workDir, `${f.path}.partial`);
    const url = f.from.url;
    try {
      await withRetry(
        f.path,
        () =>
          downloadAttempt({
            url,
            egress: ctx.sources.egress,
            headers: f.headers,
            path: f.path,
            partial,
            maxBytes,
            signal,
            onStart: ({ resumedFrom }) =>
              log.info(resumedFrom > 0 ? `resume ${f.path} from byte ${resumedFrom}` : `download ${f.path}`),
            onBytes: (bytes, total) => progress.update(f.path, bytes, total),
          }),
        { policy: retry, log, signal },
      );
    } catch (err) {
      // The download's own message names a URL; the user knows the file by its repo and path.
      const status = err instanceof DyffError ? err.details?.status : undefined;
      if (f.describe && typeof status === 'number') {
        const hint =
          status === 401 || status === 403 ? ' (private or gated? set HF_TOKEN to a token with access)' : '';
        throw invalidInput(`${f.describe}: HTTP ${status}${hint}`, ErrorType.NotFound, { status });
      }
      throw err;
    }
    const digest = await verify(partial, f);
    const info = await store.put('models', key, createReadStream(partial));
    if (info.md5 !== digest.md5) throw new Error(`${partial} changed while it was stored; rerun the fetch`);
    await rm(partial, { force: true });
    progress.finish(f.path, digest.size);
    return { path: f.path, ...digest };
  };

  const files = (await mapPool(listing.files, CONCURRENCY, fetchOne)).sort((a, b) =>
    a.path < b.path ? -1 : 1,
  );
  const keep = new Set(files.map((e) => modelFileKey(id, e.path)));
  for (const stale of (await store.list('models', modelFilesPrefix(id))).filter((o) => !keep.has(o.key))) {
    await invalidateManifest();
    await store.delete('models', stale.key);
    log.info(`remove ${stale.key.slice(modelFilesPrefix(id).length)} (no longer in the source)`);
  }
  const manifest: ModelManifest = {
    source,
    commit: listing.commit,
    files,
    createdAt: new Date().toISOString(),
  };
  await store.put('models', modelManifestKey(id), JSON.stringify(manifest, null, 2), {
    contentType: 'application/json',
  });
  await rm(workDir, { recursive: true, force: true });
  progress.report();
  log.info(
    `fetched ${files.length} file(s), ${progress.totalBytes()} bytes, into models/${modelFilesPrefix(id)}`,
  );
  return manifest;
}

function describe(source: ModelSpec['source']): string {
  if (source.kind === 'huggingFaceHub') return `huggingFaceHub ${source.repoID}@${source.revision}`;
  if (source.kind === 'urls') return `${source.urls.length} URL(s)`;
  return source.path;
}

/** The manifest of a model, or undefined when there is none (or it is not one). */
export async function readModelManifest(ctx: Pick<StepContext, 'objectStore'>, id: string) {
  const info = await ctx.objectStore.stat('models', modelManifestKey(id));
  if (!info) return undefined;
  const text = (await ctx.objectStore.getBuffer('models', modelManifestKey(id))).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = ModelManifest.safeParse(doc);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The entry for a stored object when it already holds the file: same size and checksums as the source states,
 * or, lacking those, as the local file or the last complete fetch of the same source recorded.
 */
async function storedEntry(
  ctx: StepContext,
  key: string,
  f: ModelSourceFile,
  known: FileDigest | undefined,
): Promise<ModelFileEntry | undefined> {
  const existing = await ctx.objectStore.stat('models', key);
  if (!existing) return undefined;
  const { md5, sha256 } = f.expected;
  if (f.size !== undefined && existing.size !== f.size) return undefined;
  if (md5 !== undefined && existing.md5 !== md5) return undefined;
  if (known && (existing.size !== known.size || existing.md5 !== known.md5)) return undefined;
  if (!known && md5 === undefined && sha256 === undefined) return undefined;
  const storedSha256 = known?.sha256 ?? (await ctx.objectStore.sha256('models', key));
  if (sha256 !== undefined && storedSha256 !== sha256) return undefined;
  return { path: f.path, size: existing.size, md5: existing.md5, sha256: storedSha256 };
}

/** Hash the whole download; a mismatch deletes it, so the next run starts clean instead of resuming garbage. */
async function verify(partial: string, f: ModelSourceFile): Promise<FileDigest> {
  const digest = await hashFile(partial);
  const name = f.describe ?? f.path;
  const problem =
    f.size !== undefined && digest.size !== f.size
      ? `size mismatch: expected ${f.size}, got ${digest.size}`
      : f.expected.md5 && digest.md5 !== f.expected.md5
        ? `md5 checksum mismatch: expected ${f.expected.md5}, got ${digest.md5}`
        : f.expected.sha256 && digest.sha256 !== f.expected.sha256
          ? `sha256 checksum mismatch: expected ${f.expected.sha256}, got ${digest.sha256}`
          : undefined;
  if (problem) {
    await rm(partial, { force: true });
    throw invalidInput(`${name}: ${problem}`, ErrorType.ChecksumMismatch, { path: f.path });
  }
  return digest;
}
