import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { DataSourceSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { invalidInput } from './errors.js';
import type { FetchRun } from './fetch/fetch-file.js';
import { fetchFile, tooLarge } from './fetch/fetch-file.js';
import { DEFAULT_RETRY } from './fetch/http.js';
import { gcsAccessOf, listDataSource } from './fetch/data-listing.js';
import type { HubAccess } from './fetch/hub-access.js';
import { hubAccessFromEnv, withSpecToken } from './fetch/hub-access.js';
import { datasetRepoPath } from './fetch/hub-dataset.js';
import { ByteProgress, mapPool, once } from './fetch/util.js';
import type { RawDataManifest } from './manifests.js';
import { RawDataManifest as RawDataManifestSchema, manifestKey, rawFilesPrefix } from './manifests.js';
import { checkGlob } from './patterns.js';

export interface FetchDataInput {
  /** The Dataset id: files go to `rawdata/<id>/files/`, the manifest to `rawdata/<id>/manifest.json`. */
  id: string;
  source: DataSourceSpec;
  /** @default from HF_ENDPOINT and HF_TOKEN */
  hub?: HubAccess;
}

/** Files fetched at once: enough to hide latency, few enough not to hammer a server; local copies wait on fsync. */
const CONCURRENCY = { http: 4, local: 16 } as const;

/**
 * The fetch-data step: copies every file of a data source into the object store, verified, then writes the
 * manifest. Rerunnable: complete files are skipped, partial downloads resume, stale files are removed.
 */
export async function fetchData(ctx: StepContext, input: FetchDataInput): Promise<RawDataManifest> {
  const { id, source } = input;
  const { log, objectStore: store } = ctx;
  const retry = ctx.retry ?? DEFAULT_RETRY;
  if (source.kind === 'dataset') {
    throw invalidInput('spec.source: a dataset derived from another Dataset has no raw data to fetch');
  }
  // The spec may lower the operator's limit, never raise it.
  const maxBytes = Math.min(source.maxFileBytes ?? Infinity, ctx.limits.maxFileBytes);
  checkPatterns(ctx, source);
  const hub = await withSpecToken(
    input.hub ?? hubAccessFromEnv(),
    source.kind === 'huggingFaceHub' ? source.token : undefined,
    ctx.secrets,
  );
  const gcs = gcsAccessOf(ctx.sources.gcs);
  const listing = await listDataSource(source, { ...ctx.sources, gcs, hub, log, retry, signal: ctx.signal });
  const { files, commit } = listing;
  const oversized = files.find((f) => f.size !== undefined && f.size > maxBytes);
  if (oversized) throw tooLarge(oversized.path, oversized.size!, maxBytes);
  log.info(`fetch ${files.length} file(s) from ${describe(source)}${commit ? ` at ${commit}` : ''}`);

  const previous = await readManifest(ctx, id);
  const previousEntries = new Map(
    previous && isDeepStrictEqual(previous.source, source) && previous.commit === commit
      ? previous.files.map((f) => [f.path, f])
      : [],
  );
  const run: FetchRun = {
    ctx,
    id,
    maxBytes,
    retry,
    progress: new ByteProgress(log, files),
    partialDir: join(ctx.workDir, id),
    // The old manifest goes before the first change, so it never describes files that are being replaced.
    beforeWrite: once(() => store.delete('rawdata', manifestKey(id))),
  };
  const concurrency = CONCURRENCY[source.kind === 'local' ? 'local' : 'http'];
  const entries = await mapPool(files, concurrency, (f) => fetchFile(run, f, previousEntries.get(f.path)));
  entries.sort((a, b) => (a.path < b.path ? -1 : 1));

  const keep = new Set(entries.map((e) => `${rawFilesPrefix(id)}${e.path}`));
  for (const stale of (await store.list('rawdata', rawFilesPrefix(id))).filter((o) => !keep.has(o.key))) {
    await run.beforeWrite();
    await store.delete('rawdata', stale.key);
    log.info(`remove ${stale.key.slice(rawFilesPrefix(id).length)} (no longer in the source)`);
  }
  const manifest: RawDataManifest = {
    source,
    ...(commit ? { commit } : {}),
    files: entries,
    createdAt: new Date().toISOString(),
  };
  const json = JSON.stringify(manifest, null, 2);
  await store.put('rawdata', manifestKey(id), json, { contentType: 'application/json' });
  await rm(run.partialDir, { recursive: true, force: true });
  run.progress.report();
  const bytes = entries.reduce((sum, e) => sum + e.size, 0);
  log.info(`fetched ${entries.length} file(s), ${bytes} bytes, into rawdata/${rawFilesPrefix(id)}`);
  return manifest;
}

function describe(source: Exclude<DataSourceSpec, { kind: 'dataset' }>): string {
  if (source.kind === 'url') return source.url;
  if (source.kind === 'zenodo') return `zenodo record ${source.record}`;
  if (source.kind === 'gcs') return source.uri;
  if (source.kind === 'huggingFaceHub')
    return `huggingFaceHub ${datasetRepoPath(source.repoID)}@${source.revision}`;
  return source.path;
}

/** Globs and fnmatch patterns of the spec, bounded before any is compiled. */
function checkPatterns(ctx: StepContext, source: DataSourceSpec): void {
  const max = ctx.limits.maxPatternLength;
  if ((source.kind === 'local' || source.kind === 'gcs') && source.include !== undefined)
    checkGlob(source.include, 'spec.source.include', max);
  if (source.kind === 'huggingFaceHub') {
    source.allowPatterns?.forEach((p, i) => checkGlob(p, `spec.source.allowPatterns[${i}]`, max));
    source.ignorePatterns?.forEach((p, i) => checkGlob(p, `spec.source.ignorePatterns[${i}]`, max));
  }
}

/** The last complete fetch's manifest, if any and readable: it vouches for files the source has no checksum for. */
async function readManifest(ctx: StepContext, id: string): Promise<RawDataManifest | undefined> {
  const info = await ctx.objectStore.stat('rawdata', manifestKey(id));
  if (!info) return undefined;
  try {
    const text = (await ctx.objectStore.getBuffer('rawdata', manifestKey(id))).toString('utf8');
    const parsed = RawDataManifestSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
