import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedIdentifier, quotedString } from '@duckdb/node-api';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorType } from '../../domain/errors.js';
import type { ObjectStore } from '../../ports/object-store.js';
import { invalidInput } from '../errors.js';
import { localFiles } from '../local-files.js';
import type { DatasetManifest } from '../manifests.js';
import { datasetKeys } from '../../domain/object-layout.js';
import type { DoneRanges, SkippedItem } from './layout.js';

/** Local paths of a dataset's Parquet shards, as its manifest lists them (a dataset without one is not ready). */
export async function datasetShards(
  store: ObjectStore,
  datasetId: string,
  scratch: string,
  signal?: AbortSignal,
) {
  if (!(await store.stat('datasets', datasetKeys.manifest(datasetId)))) {
    throw invalidInput(
      `dataset ${datasetId} not found (datasets/${datasetKeys.manifest(datasetId)} is missing)`,
      ErrorType.NotFound,
    );
  }
  const manifest = JSON.parse(
    (await store.getBuffer('datasets', datasetKeys.manifest(datasetId))).toString('utf8'),
  ) as DatasetManifest;
  const objects = manifest.artifacts.map((a) => ({ key: `${datasetId}/${a.path}`, size: a.size }));
  return localFiles(store, 'datasets', objects, join(scratch, 'dataset'), signal);
}

export interface RowFilter {
  split?: string;
  splitColumn: string;
}

/**
 * Creates the view `rows` over the shards, filtered to the split, and checks the columns the client needs.
 * Every step that counts what an evaluation should hold (evaluate, verify-outputs) goes through here.
 */
export async function createRowsView(
  connection: DuckDBConnection,
  shards: readonly string[],
  filter: RowFilter,
) {
  const files = `[${shards.map(quotedString).join(', ')}]`;
  const columns = (
    await connection.runAndReadAll(`SELECT * FROM read_parquet(${files}) LIMIT 0`)
  ).columnNames();
  if (!columns.includes('_index_'))
    throw invalidInput('the dataset has no _index_ column: ingest it with ingest-dataset');
  let where = '';
  if (filter.split !== undefined) {
    if (!columns.includes(filter.splitColumn)) {
      throw invalidInput(
        `spec.splitColumn: the dataset has no column ${JSON.stringify(filter.splitColumn)} (columns: ${columns.join(', ')})`,
      );
    }
    where = ` WHERE ${quotedIdentifier(filter.splitColumn)} = ${quotedString(filter.split)}`;
  }
  await connection.run(`CREATE OR REPLACE VIEW rows AS SELECT * FROM read_parquet(${files})${where}`);
}

const sqlList = (values: readonly string[]) => `[${values.map(quotedString).join(', ')}]::VARCHAR[]`;

/** The table `replications(_replication_, _replication_number_)`. */
export async function createReplicationsTable(connection: DuckDBConnection, replications: readonly string[]) {
  await connection.run(
    `CREATE OR REPLACE TABLE replications AS SELECT r AS _replication_, n - 1 AS _replication_number_ FROM unnest(${sqlList(replications)}) WITH ORDINALITY AS t(r, n)`,
  );
}

/**
 * A table `<name>(_replication_, _index_)` of pairs: those written by earlier runs, or skipped. Loaded from a
 * JSON Lines file of ranges, so even millions of pairs cost a few kilobytes of SQL.
 */
export async function createPairsTable(
  connection: DuckDBConnection,
  name: 'done' | 'skipped',
  ranges: readonly DoneRanges[],
  skipped: readonly SkippedItem[],
  scratch: string,
): Promise<void> {
  const lines: string[] = [];
  for (const byReplication of ranges) {
    for (const [r, list] of Object.entries(byReplication)) {
      for (const [s, e] of list) lines.push(JSON.stringify({ r, s, e }));
    }
  }
  for (const item of skipped)
    lines.push(JSON.stringify({ r: item._replication_, s: item._index_, e: item._index_ }));
  await connection.run(`CREATE OR REPLACE TABLE ${name} (_replication_ VARCHAR, _index_ BIGINT)`);
  if (lines.length === 0) return;
  const file = join(scratch, `${name}.jsonl`);
  await writeFile(file, `${lines.join('\n')}\n`);
  await connection.run(
    `INSERT INTO ${name} SELECT DISTINCT r, unnest(range(s, e + 1)) FROM read_json(${quotedString(file)}, format = 'newline_delimited', columns = {r: 'VARCHAR', s: 'BIGINT', e: 'BIGINT'})`,
  );
}
