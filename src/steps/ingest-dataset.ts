import type { DuckDBConnection } from '@duckdb/node-api';
import { datasetKeys } from '../domain/object-layout.js';
import { quotedString } from '@duckdb/node-api';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { IngestSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { invalidInput } from './errors.js';
import { engineLimits, openEngine, resourceError } from './ingest/duckdb.js';
import { resolveFormat } from './ingest/formats.js';
import { projection } from './ingest/projection.js';
import { datasetSchema } from './ingest/schema.js';
import { materialize, readRawManifest } from './ingest/raw-files.js';
import { countRows, stage } from './ingest/stage.js';
import type { DatasetManifest } from './manifests.js';
import { matcher } from './paths.js';
import { checkGlob, checkRegex } from './patterns.js';

export interface IngestDatasetInput {
  /** The Dataset id: reads `rawdata/<id>/`, writes `datasets/<id>/data/part-*.parquet` and the manifest. */
  id: string;
  ingest: IngestSpec;
}

/** @default rows per Parquet shard */
export const DEFAULT_SHARD_ROWS = 1_000_000;

const shardName = (i: number) => `part-${String(i).padStart(5, '0')}.parquet`;

/**
 * The ingest-dataset step: raw files → DuckDB staging table (in memory, spilling to the scratch dir) → Parquet shards with
 * `_index_` → object store → manifest, last. A rerun rewrites the same shard names and removes shards an earlier
 * attempt wrote beyond the new count.
 */
export async function ingestDataset(
  ctx: StepContext,
  { id, ingest }: IngestDatasetInput,
): Promise<DatasetManifest> {
  const { log, signal } = ctx;
  const { maxPatternLength } = ctx.limits;
  if (ingest.include !== undefined) checkGlob(ingest.include, 'spec.ingest.include', maxPatternLength);
  const labelPattern = ingest.text?.labelPattern;
  if (labelPattern !== undefined) checkRegex(labelPattern, 'spec.ingest.text.labelPattern', maxPatternLength);
  const raw = await readRawManifest(ctx, id);
  const included = matcher(ingest.include);
  const chosen = raw.files.filter((f) => included(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
  if (chosen.length === 0) {
    throw invalidInput(
      ingest.include === undefined
        ? `rawdata/${id}/files/ holds no files`
        : `spec.ingest.include: no raw file matches ${JSON.stringify(ingest.include)}`,
    );
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
    const limits = engineLimits(ctx.limits);
    const engine = await openEngine(scratch, signal, limits);
    try {
      await stage(engine.connection, format, files, ingest, log, signal);
      return await writeDataset(ctx, id, ingest, engine.connection, join(scratch, 'shards'));
    } catch (err) {
      throw resourceError(err, limits) ?? err;
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
  await store.delete('datasets', datasetKeys.manifest(id));
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
    const info = await store.put('datasets', datasetKeys.artifact(id, path), createReadStream(local));
    await rm(local);
    const rows = Math.min(shardRows, rowCount - i * shardRows);
    artifacts.push({ kind: 'parquet', path, rows, size: info.size, digest: { md5: info.md5 } });
    log.progress({ done: i * shardRows + rows, total: rowCount, unit: 'rows', message: `wrote ${path}` });
  }
  const keep = new Set(artifacts.map((a) => `${id}/${a.path}`));
  for (const stale of (await store.list('datasets', datasetKeys.shards(id))).filter(
    (o) => !keep.has(o.key),
  )) {
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
  await store.put('datasets', datasetKeys.manifest(id), JSON.stringify(manifest, null, 2), {
    contentType: 'application/json',
  });
  log.info(`ingested ${rowCount} rows into ${artifacts.length} shard(s) under datasets/${id}/data/`);
  return manifest;
}
