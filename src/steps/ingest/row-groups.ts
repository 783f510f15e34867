import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedIdentifier, quotedString } from '@duckdb/node-api';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { INDEX_COLUMN } from './projection.js';

/**
 * Bytes of data per Parquet row group in an image dataset. DuckDB reads a row group's column at once, so the
 * evaluation client holds about this much per DuckDB thread while it sends a shard's images, not the whole shard.
 */
export const IMAGE_ROW_GROUP_BYTES = 4 * 1024 * 1024;

/** Rows per row group so that a group of rows of the file's average size stays within `targetBytes`. */
export function rowGroupRows(fileBytes: number, rows: number, targetBytes: number): number {
  return Math.max(1, Math.floor(targetBytes / Math.max(1, fileBytes / Math.max(1, rows))));
}

/**
 * Copies `rows` rows of `relation` (its `_index_` from `start` on) to `file` in row groups of `groupRows`.
 * DuckDB's Parquet writer closes a row group only between the chunks it is fed, and a scan feeds it chunks of up
 * to 2,048 rows, so `ROW_GROUP_SIZE` alone leaves a shard of a few hundred images in one group; a UNION ALL of
 * `_index_` slices feeds it one slice per chunk, in order.
 */
export function rowGroupsCopySql(
  relation: string,
  start: number,
  rows: number,
  groupRows: number,
  file: string,
): string {
  const index = quotedIdentifier(INDEX_COLUMN);
  const slices: string[] = [];
  for (let s = start; s < start + rows; s += groupRows) {
    const end = Math.min(s + groupRows, start + rows);
    slices.push(`(SELECT * FROM ${relation} WHERE ${index} >= ${s} AND ${index} < ${end})`);
  }
  return `COPY (${slices.join(' UNION ALL ')}) TO ${quotedString(file)} (FORMAT parquet, ROW_GROUP_SIZE ${groupRows})`;
}

/**
 * A shard rewritten in row groups of about `targetBytes` (its rows, order and columns unchanged), or the shard
 * itself when it already fits one such group.
 */
export async function splitRowGroups(
  connection: DuckDBConnection,
  shard: { file: string; rows: number; start: number },
  targetBytes: number,
  dir: string,
  n: number,
): Promise<string> {
  const groupRows = rowGroupRows((await stat(shard.file)).size, shard.rows, targetBytes);
  if (groupRows >= shard.rows) return shard.file;
  const file = join(dir, `grouped-${n}.parquet`);
  const relation = `read_parquet(${quotedString(shard.file)})`;
  await connection.run(rowGroupsCopySql(relation, shard.start, shard.rows, groupRows, file));
  return file;
}
