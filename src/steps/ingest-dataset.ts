import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedString } from '@duckdb/node-api';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DyffError, ErrorType } from '../domain/errors.js';
import type { IngestSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { invalidInput } from './errors.js';
import { openEngine } from './ingest/duckdb.js';
import { resolveFormat } from './ingest/formats.js';
import { projection } from './ingest/projection.js';
import { datasetSchema } from './ingest/schema.js';
import type { LocalFile } from './ingest/stage.js';
import { countRows, stage } from './ingest/stage.js';
import type { DatasetManifest, RawDataManifest } from './manifests.js';
import { RawDataManifest as RawDataManifestSchema, manifestKey, rawFileKey } from './manifests.js';
import { assertSafePath, matcher } from './paths.js';

export interface IngestDatasetInput {
  /** The Dataset id: reads `rawdata/<id>/`, writes `datasets/<id>/data/part-*.parquet` and the manifest. */
  id: string;
  ingest: IngestSpec;
}

/** @default rows per Parquet shard */
export const DEFAULT_SHARD_ROWS = 1_000_000;

const shardName = (i: number) => `part-${String(i).padStart(5, '0')}.parquet`;

/**
 * The ingest-dataset step: raw files → DuckDB staging table (on disk, in the scratch dir) → Parquet shards with
 * `_index_` → object store → manifest, last. A rerun rewrites the same shard names and removes shards an earlier
 * attempt wrote beyond the new count.
 */
export async function ingestDataset(
  ctx: StepContext,
  { id, ingest }: IngestDatasetInput,
): Promise<DatasetManifest> {
  const { log, signal } = ctx;
  const raw = await readRawManifest(ctx, id);
  const included = matcher(ingest.include);
  const chosen = raw.files.filter((f) => included(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
  if (chosen.length === 0) {
    throw invalidInput(`spec.ingest.include: no raw file matches ${JSON.stringify(ingest.include)}`);
  }
  const format = resolveFormat(
    ingest.format,
    chosen.map((f) => f.path),
  );
  log.info(`ingest ${chosen.length} ${format} file(s) from rawdata/${id}/files/`);

  const scratch = join(ctx.workDir, id);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(join(scratch, 'shards'), { recursive: true });
  try {
    const files = await materialize(ctx, id, chosen, join(scratch, 'raw'));
    const engine = await openEngine(scratch, signal);
    try {
      await stage(engine.connection, format, files, ingest, log, signal);
      return await writeDataset(ctx, id, ingest, engine.connection, join(scratch, 'shards'));
    } finally {
      engine.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function writeDataset(
  ctx: StepContext,
  id: string,
  ingest: IngestSpec,
  connection: DuckDBConnection,
  shardDir: string,
): Promise<DatasetManifest> {
  const { log, objectStore: store, signal } = ctx;
  const rowCount = await countRows(connection);
  if (rowCount === 0) throw invalidInput(`the input files hold no rows`);
  const staged = (await connection.runAndReadAll('SELECT * FROM staged LIMIT 0')).columnNames();
  const select = projection(staged, ingest).join(', ');
  const shape = await connection.runAndReadAll(`SELECT ${select} FROM staged LIMIT 0`);
  const schema = datasetSchema(shape.columnNames(), shape.columnTypes());

  // The old manifest goes first: from here on the shards change, and a manifest must never describe a mix.
  await store.delete('datasets', manifestKey(id));
  const shardRows = ingest.shardRows ?? DEFAULT_SHARD_ROWS;
  const shardCount = Math.ceil(rowCount / shardRows);
  const artifacts: DatasetManifest['artifacts'] = [];
  log.progress({ done: 0, total: rowCount, unit: 'rows', message: 'write parquet' });
  for (let i = 0; i < shardCount; i++) {
    signal?.throwIfAborted();
    const local = join(shardDir, shardName(i));
    const where =
      shardCount === 1 ? '' : ` WHERE rowid >= ${i * shardRows} AND rowid < ${(i + 1) * shardRows}`;
    await connection.run(
      `COPY (SELECT ${select} FROM staged${where}) TO ${quotedString(local)} (FORMAT parquet)`,
    );
    const path = `data/${shardName(i)}`;
    const info = await store.put('datasets', `${id}/${path}`, createReadStream(local));
    await rm(local);
    const rows = Math.min(shardRows, rowCount - i * shardRows);
    artifacts.push({ kind: 'parquet', path, rows, size: info.size, digest: { md5: info.md5 } });
    log.progress({ done: i * shardRows + rows, total: rowCount, unit: 'rows', message: `wrote ${path}` });
  }
  const keep = new Set(artifacts.map((a) => `${id}/${a.path}`));
  for (const stale of (await store.list('datasets', `${id}/data/`)).filter((o) => !keep.has(o.key))) {
    await store.delete('datasets', stale.key);
    log.info(`remove ${stale.key} (from an earlier attempt)`);
  }
  const manifest: DatasetManifest = {
    rowCount,
    artifacts,
    schema,
    ingest,
    createdAt: new Date().toISOString(),
  };
  await store.put('datasets', manifestKey(id), JSON.stringify(manifest, null, 2), {
    contentType: 'application/json',
  });
  log.info(`ingested ${rowCount} rows into ${artifacts.length} shard(s) under datasets/${id}/data/`);
  return manifest;
}

async function readRawManifest(ctx: StepContext, id: string): Promise<RawDataManifest> {
  let text: string;
  try {
    text = (await ctx.objectStore.getBuffer('rawdata', manifestKey(id))).toString('utf8');
  } catch (err) {
    if (err instanceof DyffError && err.type === ErrorType.NotFound) {
      throw invalidInput(`rawdata/${manifestKey(id)} not found: fetch the data first`, ErrorType.NotFound);
    }
    throw err;
  }
  let parsed;
  try {
    parsed = RawDataManifestSchema.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) throw invalidInput(`rawdata/${manifestKey(id)} is not a raw data manifest`);
  // Paths become local file names below; a tampered manifest must not point outside the scratch dir.
  for (const f of parsed.data.files) assertSafePath(f.path, `rawdata/${manifestKey(id)}`);
  return parsed.data;
}

/** Local paths for DuckDB: the store's own file when it has one, else a download into the scratch dir. */
async function materialize(
  ctx: StepContext,
  id: string,
  files: RawDataManifest['files'],
  dir: string,
): Promise<LocalFile[]> {
  const store = ctx.objectStore;
  const out: LocalFile[] = [];
  for (const f of files) {
    const key = rawFileKey(id, f.path);
    const inPlace = store.localPath?.('rawdata', key);
    if (
      inPlace !== undefined &&
      (await access(inPlace).then(
        () => true,
        () => false,
      ))
    ) {
      out.push({ path: f.path, local: inPlace, size: f.size });
      continue;
    }
    const local = join(dir, ...f.path.split('/'));
    await mkdir(dirname(local), { recursive: true });
    try {
      await pipeline(await store.get('rawdata', key), createWriteStream(local), { signal: ctx.signal });
    } catch (err) {
      if (!(err instanceof DyffError && err.type === ErrorType.NotFound)) throw err;
      throw invalidInput(
        `rawdata/${key} is in the manifest but missing: fetch the data again`,
        ErrorType.NotFound,
      );
    }
    out.push({ path: f.path, local, size: f.size });
  }
  return out;
}
