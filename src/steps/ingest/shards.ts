import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedIdentifier, quotedString } from '@duckdb/node-api';
import { join } from 'node:path';
import { runWithProgress } from './duckdb.js';
import { INDEX_COLUMN } from './projection.js';
import { splitRowGroups } from './row-groups.js';

export interface ShardQuery {
  /** The relation the rows come from, scanned in order (file path, then row). */
  relation: string;
  /** A column name free in `relation`, for the row's position (0-based). */
  position: string;
  /** A column name free in `relation` and `select`, for the shard number. */
  shard: string;
  /** The dataset's SELECT list over `relation` and `position`. */
  select: string;
  shardRows: number;
  /** A column of `relation` with each row's shard number (consecutive from 0), instead of counting `shardRows`. */
  shardBy?: string;
  /** Bytes of data per Parquet row group (shards are rewritten to it); by default a shard is one row group. */
  rowGroupBytes?: number;
}

export interface Shard {
  /** The shard's Parquet file (local), its rows in `_index_` order. */
  file: string;
  rows: number;
  /** Whether DuckDB wrote the shard out of order and it was rewritten sorted (a second pass over the shard). */
  resorted: boolean;
}

interface Written {
  files: string[];
  rows: number;
}

/**
 * Writes the dataset's rows in one pass: DuckDB scans the source once, numbers the rows as they stream by
 * (`row_number() OVER ()` with no ordering is a streaming window, not a sort), and writes each run of
 * `shardRows` rows into its own partition directory under `dir`. Returns the shards in order, empty if the
 * source holds no rows.
 */
export async function writeShards(
  connection: DuckDBConnection,
  q: ShardQuery,
  dir: string,
  report: (percent: number) => void,
): Promise<Shard[]> {
  const written = (
    await oneThread(connection, () => runWithProgress(connection, shardsCopySql(q, dir), report))
  ).getRowObjectsJS();
  const byShard = new Map<number, Written>();
  const pattern = new RegExp(`[\\\\/]${escape(q.shard)}=(\\d+)[\\\\/]`);
  for (const file of written) {
    const filename = String(file.filename);
    const n = Number(pattern.exec(filename)?.[1]);
    if (!Number.isSafeInteger(n)) throw new Error(`DuckDB wrote ${filename} outside a shard directory`);
    const entry = byShard.get(n) ?? { files: [], rows: 0 };
    entry.files.push(filename);
    entry.rows += Number(file.count);
    byShard.set(n, entry);
  }
  const shards: Shard[] = [];
  let start = 0;
  for (let n = 0; n < byShard.size; n++) {
    const w = byShard.get(n);
    if (w === undefined) throw new Error(`DuckDB wrote no shard ${n} of ${byShard.size}`);
    const ordered = await inOrder(connection, w, n, start, dir);
    const file =
      q.rowGroupBytes === undefined
        ? ordered.file
        : await splitRowGroups(
            connection,
            { file: ordered.file, rows: w.rows, start },
            q.rowGroupBytes,
            dir,
            n,
          );
    shards.push({ file, resorted: ordered.resorted, rows: w.rows });
    start += w.rows;
  }
  return shards;
}

/**
 * The one query: `row_number() OVER ()` with no ordering is a streaming window, not a sort; the shard number is
 * the position divided by `shardRows`; RETURN_STATS gives each file's row count.
 */
export function shardsCopySql(q: ShardQuery, dir: string): string {
  const position = quotedIdentifier(q.position);
  const shard = quotedIdentifier(q.shard);
  const number = q.shardBy === undefined ? `${position} // ${q.shardRows}` : quotedIdentifier(q.shardBy);
  return `COPY (
    SELECT ${q.select}, ${number} AS ${shard}
    FROM (SELECT (row_number() OVER () - 1)::BIGINT AS ${position}, * FROM ${q.relation})
  ) TO ${quotedString(dir)} (FORMAT parquet, PARTITION_BY (${shard}), RETURN_STATS true)`;
}

/**
 * Runs `run` on one DuckDB thread, then gives the engine its threads back. The streaming window makes the write
 * one pipeline that one thread runs (CSV parsing and Parquet encoding included); with a second thread DuckDB
 * spent as much CPU again on it without finishing sooner (1M CSV rows: 1.2–1.6 s of CPU against 0.6 s on one
 * thread), and on a busy machine that CPU came out of the thread doing the work.
 */
async function oneThread<T>(connection: DuckDBConnection, run: () => Promise<T>): Promise<T> {
  const threads = Number(
    (await connection.runAndReadAll("SELECT current_setting('threads')")).getRows()[0]![0],
  );
  if (threads === 1) return run();
  await connection.run('SET threads = 1');
  try {
    return await run();
  } finally {
    await connection.run(`SET threads = ${threads}`);
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * DuckDB's partitioned writer guarantees which rows land in a shard, not their order inside it: a small run of
 * rows can wait in the Parquet writer's combine buffer while a later, larger run is written ahead of it (the
 * engine's flush threshold keeps runs small so that it does not happen, see `openEngine`). Rows reach the writer
 * in `_index_` order and each row group holds runs in arrival order, so a shard is in order exactly when its row
 * groups are consecutive ranges of `_index_`, which the Parquet footer's statistics tell without reading the
 * data. A shard found out of order, or split over several files, is rewritten sorted.
 */
async function inOrder(
  connection: DuckDBConnection,
  shard: Written,
  n: number,
  start: number,
  dir: string,
): Promise<{ file: string; resorted: boolean }> {
  const files = `[${shard.files.map(quotedString).join(', ')}]`;
  if (shard.files.length === 1) {
    const groups = await connection.runAndReadAll(
      `SELECT row_group_num_rows, stats_min, stats_max FROM parquet_metadata(${files})
       WHERE path_in_schema = ${quotedString(INDEX_COLUMN)} ORDER BY row_group_id`,
    );
    let next = start;
    const consecutive = groups.getRows().every(([rows, min, max]) => {
      const ok = Number(min) === next && Number(max) === next + Number(rows) - 1;
      next += Number(rows);
      return ok;
    });
    if (consecutive && next === start + shard.rows) return { file: shard.files[0]!, resorted: false };
  }
  const sorted = join(dir, `sorted-${n}.parquet`);
  await connection.run(
    `COPY (SELECT * FROM read_parquet(${files}) ORDER BY ${quotedIdentifier(INDEX_COLUMN)}) TO ${quotedString(sorted)} (FORMAT parquet)`,
  );
  return { file: sorted, resorted: true };
}
