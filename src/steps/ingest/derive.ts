import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBBlobValue, quotedIdentifier, quotedString } from '@duckdb/node-api';
import { createWriteStream } from 'node:fs';
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DyffError, ErrorType } from '../../domain/errors.js';
import type { DerivedDataSource } from '../../domain/image-spec.js';
import { datasetKeys } from '../../domain/object-layout.js';
import type { IngestSpec } from '../../domain/specs.js';
import type { StepContext } from '../context.js';
import { invalidInput } from '../errors.js';
import type { DatasetManifest } from '../manifests.js';
import { corruptImage, parameterOf } from './corruptions.js';
import { engineLimits, openEngine, resourceError } from './duckdb.js';
import { INDEX_COLUMN } from './projection.js';
import { publishDataset } from './publish.js';
import type { Shard } from './shards.js';

/**
 * A dataset derived from a Ready one: every row of the source, shard for shard, with its image corrupted and
 * written as PNG; `_index_`, labels and splits are the source's. Rows stream from DuckDB a chunk at a time and the
 * corrupted images are staged in a table (which DuckDB spills), then joined back to the source shard's other
 * columns. The manifest records the source and the corruption (the lineage).
 */
export async function deriveDataset(
  ctx: StepContext,
  id: string,
  source: DerivedDataSource,
  ingest: IngestSpec,
): Promise<DatasetManifest> {
  const { log } = ctx;
  // Nothing of spec.ingest applies: silently ignoring a split or a column list would mislead.
  const set = Object.keys(ingest).find((k) => k !== 'format' || ingest.format !== 'auto');
  if (set !== undefined) {
    throw invalidInput(
      `spec.ingest.${set}: a derived dataset keeps its source's rows, columns and splits; leave spec.ingest out`,
    );
  }
  const from = await sourceManifest(ctx, source.dataset);
  const { corruption } = source;
  const column = from.schema.columns.find((c) => c.name === corruption.column);
  if (column?.type !== 'BLOB') {
    throw invalidInput(
      `spec.source.corruption.column: dataset ${source.dataset} has no BLOB column ${JSON.stringify(corruption.column)}`,
    );
  }
  log.info(
    `derive from dataset ${source.dataset}: ${corruption.name} at severity ${corruption.severity} (parameter ${parameterOf(corruption)})`,
  );
  const scratch = join(ctx.workDir, id);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const limits = engineLimits(ctx.limits);
  try {
    const engine = await openEngine(scratch, ctx.signal, limits);
    try {
      const shards: Shard[] = [];
      // The appender's connection: a connection runs one query at a time, and the appender's flush on the one
      // that streams the source would end the stream after its first chunk (the shard cut to 2,048 rows).
      const appending = await engine.connect();
      let done = 0;
      for (const [i, artifact] of from.artifacts.entries()) {
        const input = await localShard(ctx, source.dataset, artifact.path, join(scratch, `in-${i}.parquet`));
        const file = join(scratch, `out-${i}.parquet`);
        const rows = await corruptShard(engine.connection, appending, input, file, source, (n) => {
          done += n;
          log.progress({ done, total: from.rowCount, unit: 'rows', message: `corrupt ${artifact.path}` });
        });
        shards.push({ file, rows, resorted: false });
      }
      // Every row of the source, or no dataset: a derived dataset cut short would skew every score taken on it.
      const derived = shards.reduce((n, s) => n + s.rows, 0);
      if (derived !== from.rowCount) {
        throw new Error(`derived ${derived} rows from dataset ${source.dataset}, which has ${from.rowCount}`);
      }
      const lineage = { dataset: source.dataset, corruption, parameter: parameterOf(corruption) };
      return await publishDataset(ctx, id, ingest, from.schema, shards, { derivedFrom: lineage });
    } catch (err) {
      throw resourceError(err, limits) ?? err;
    } finally {
      engine.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function corruptShard(
  connection: DuckDBConnection,
  appending: DuckDBConnection,
  input: string,
  output: string,
  { corruption }: DerivedDataSource,
  progress: (rows: number) => void,
): Promise<number> {
  const index = quotedIdentifier(INDEX_COLUMN);
  const image = quotedIdentifier(corruption.column);
  await connection.run(`CREATE OR REPLACE TABLE corrupted (${index} BIGINT, ${image} BLOB)`);
  const appender = await appending.createAppender('corrupted');
  let rows = 0;
  try {
    const result = await connection.stream(
      `SELECT ${index}, ${image} FROM read_parquet(${quotedString(input)})`,
    );
    for (
      let chunk = await result.fetchChunk();
      chunk && chunk.rowCount > 0;
      chunk = await result.fetchChunk()
    ) {
      for (const [key, bytes] of chunk.getRows()) {
        const at = String(key);
        if (!(bytes instanceof DuckDBBlobValue)) throw invalidInput(`row ${INDEX_COLUMN} ${at}: no image`);
        let out: Buffer;
        try {
          out = await corruptImage(bytes.bytes, corruption, at);
        } catch (err) {
          throw invalidInput(
            `row ${INDEX_COLUMN} ${at}: cannot decode the image (${(err as Error).message})`,
          );
        }
        appender.appendBigInt(BigInt(at));
        appender.appendBlob(out);
        appender.endRow();
      }
      rows += chunk.rowCount;
      appender.flushSync();
      progress(chunk.rowCount);
    }
  } finally {
    appender.closeSync();
  }
  // Every other column is the source's; a `format` column now says png.
  const columns = (
    await connection.runAndReadAll(`SELECT * FROM read_parquet(${quotedString(input)}) LIMIT 0`)
  ).columnNames();
  const replace = [`c.${image} AS ${image}`, ...(columns.includes('format') ? [`'png' AS "format"`] : [])];
  const copied = await connection.run(
    `COPY (SELECT s.* REPLACE (${replace.join(', ')}) FROM read_parquet(${quotedString(input)}) s
      JOIN corrupted c USING (${index}) ORDER BY s.${index}) TO ${quotedString(output)} (FORMAT parquet)`,
  );
  if (copied.rowsChanged !== rows)
    throw new Error(`corrupted ${rows} rows of ${input}, wrote ${copied.rowsChanged}`);
  return rows;
}

async function sourceManifest(ctx: StepContext, dataset: string): Promise<DatasetManifest> {
  try {
    const text = await ctx.objectStore.getBuffer('datasets', datasetKeys.manifest(dataset));
    return JSON.parse(text.toString('utf8')) as DatasetManifest;
  } catch (err) {
    if (!(err instanceof DyffError && err.type === ErrorType.NotFound)) throw err;
    throw invalidInput(
      `spec.source.dataset: dataset ${dataset} has no manifest (not ingested)`,
      ErrorType.NotFound,
    );
  }
}

/** The store's own file when it has one, else a download into the scratch dir. */
async function localShard(ctx: StepContext, dataset: string, path: string, dest: string): Promise<string> {
  const key = datasetKeys.artifact(dataset, path);
  const inPlace = ctx.objectStore.localPath?.('datasets', key);
  if (
    inPlace !== undefined &&
    (await access(inPlace).then(
      () => true,
      () => false,
    ))
  )
    return inPlace;
  await pipeline(await ctx.objectStore.get('datasets', key), createWriteStream(dest), { signal: ctx.signal });
  return dest;
}
