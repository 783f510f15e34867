import { quotedIdentifier } from '@duckdb/node-api';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSourceSpec, IngestSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { invalidInput } from './errors.js';
import { engineLimits, openEngine, resourceError } from './ingest/duckdb.js';
import { deriveDataset } from './ingest/derive.js';
import { resolveFormat } from './ingest/formats.js';
import { DEFAULT_SHARD_BYTES } from './ingest/image-folders.js';
import { freeName, projection } from './ingest/projection.js';
import { publishDataset } from './ingest/publish.js';
import { materialize, readRawManifest } from './ingest/raw-files.js';
import { datasetSchema } from './ingest/schema.js';
import { likelyRows } from './ingest/row-estimate.js';
import { writeShards } from './ingest/shards.js';
import { openSource } from './ingest/source.js';
import type { DatasetManifest } from './manifests.js';
import { matcher } from './paths.js';
import { checkGlob, checkRegex } from './patterns.js';

export interface IngestDatasetInput {
  /** The Dataset id: reads `rawdata/<id>/`, writes `datasets/<id>/data/part-*.parquet` and the manifest. */
  id: string;
  ingest: IngestSpec;
  /** Only a derived dataset's source matters here: it is read from another Dataset, not from `rawdata/<id>/`. */
  source?: DataSourceSpec;
}

/** @default rows per Parquet shard */
export const DEFAULT_SHARD_ROWS = 1_000_000;

/**
 * The ingest-dataset step, in one pass: DuckDB reads the raw files where they lie (downloaded first only when the
 * store is remote), numbers the rows into `_index_` and writes the Parquet shards in the same query; then the
 * shards go to the object store and the manifest, last. A rerun rewrites the same shard names and removes shards
 * an earlier attempt wrote beyond the new count.
 */
export async function ingestDataset(
  ctx: StepContext,
  { id, ingest, source: from }: IngestDatasetInput,
): Promise<DatasetManifest> {
  if (from?.kind === 'dataset') return deriveDataset(ctx, id, from, ingest);
  const { log, signal } = ctx;
  const { maxPatternLength } = ctx.limits;
  if (ingest.include !== undefined) checkGlob(ingest.include, 'spec.ingest.include', maxPatternLength);
  const labelPattern = ingest.text?.labelPattern;
  if (labelPattern !== undefined) checkRegex(labelPattern, 'spec.ingest.text.labelPattern', maxPatternLength);
  const imageLabels = ingest.images?.labelPattern;
  if (imageLabels !== undefined) checkRegex(imageLabels, 'spec.ingest.images.labelPattern', maxPatternLength);
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
  await mkdir(scratch, { recursive: true });
  try {
    const files = await materialize(ctx, id, chosen, join(scratch, 'raw'));
    const limits = engineLimits(ctx.limits);
    const engine = await openEngine(scratch, signal, limits);
    try {
      const { connection } = engine;
      const shardRows = ingest.shardRows ?? DEFAULT_SHARD_ROWS;
      const shardLimits = { shardRows, shardBytes: ingest.shardBytes ?? DEFAULT_SHARD_BYTES };
      const source = await openSource(connection, format, files, ingest, shardLimits, log, signal);
      const position = freeName('_position_', source.columns);
      const select = projection(source.columns, ingest, position).join(', ');
      const shape = await connection.runAndReadAll(
        `SELECT ${select} FROM (SELECT 0::BIGINT AS ${quotedIdentifier(position)}, * FROM ${source.shape})`,
      );
      const schema = datasetSchema(shape.columnNames(), shape.columnTypes());
      const query = {
        relation: source.relation,
        position,
        shard: freeName('_shard_', [...source.columns, ...shape.columnNames(), source.shardBy ?? '']),
        select,
        shardRows,
        shardBy: source.shardBy,
        rowGroupBytes: source.rowGroupBytes,
        likelyRows: await likelyRows(connection, format, files),
      };
      const report = (done: number) =>
        log.progress({ done, total: 100, unit: 'percent', message: `write parquet from ${format}` });
      const shards = await source.read(() => writeShards(connection, query, join(scratch, 'shards'), report));
      if (shards.length === 0) throw source.noRows();
      for (const [i, s] of shards.entries()) {
        if (s.resorted) log.info(`shard ${i} came out of order from DuckDB and was rewritten sorted`);
      }
      return await publishDataset(ctx, id, ingest, schema, shards, raw.commit ? { commit: raw.commit } : {});
    } catch (err) {
      throw resourceError(err, limits) ?? err;
    } finally {
      engine.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
