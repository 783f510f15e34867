import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedIdentifier, quotedString } from '@duckdb/node-api';
import { mkdir } from 'node:fs/promises';
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
  /** About how many rows the source holds (`likelyRows`), when that is known before reading it. */
  likelyRows?: number;
}

/**
 * A source likely to hold at most this many shards' rows has its first shard written by the plain writer: one
 * that turns out to hold more reads its first shard's rows twice.
 */
const FIRST_SHARD_APART_UP_TO = 1.25;

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
 * (`row_number() OVER ()` with no ordering is a streaming window, not a sort), and writes them into shards of
 * `shardRows` rows under `dir`. Returns the shards in order, empty if the source holds no rows.
 *
 * A source of at most `shardRows` rows (most datasets, at the default of a million) is one shard, and DuckDB's
 * plain Parquet writer writes it a fifth faster than its partitioned writer does (`firstShardSql`). So a source
 * likely to be about one shard (`likelyRows`) has its first shard written that way, and only if it holds more rows
 * than that is it read again for the rest, by the partitioned writer (`shardsCopySql`), which numbers the first
 * shard's rows again without writing them. Any other source is written by the partitioned writer alone.
 */
export async function writeShards(
  connection: DuckDBConnection,
  q: ShardQuery,
  dir: string,
  report: (percent: number) => void,
): Promise<Shard[]> {
  // Two queries, each reporting from 0: what the step shows never goes back.
  let shown = -1;
  const progress = (percent: number) => {
    if (percent > shown) report((shown = percent));
  };
  const written = await oneThread(connection, async () => {
    const apart =
      q.shardBy === undefined &&
      q.likelyRows !== undefined &&
      q.likelyRows <= q.shardRows * FIRST_SHARD_APART_UP_TO &&
      Number.isSafeInteger(q.shardRows + 1);
    if (!apart) {
      return (await runWithProgress(connection, shardsCopySql(q, dir), progress)).getRowObjectsJS();
    }
    await mkdir(dir, { recursive: true });
    const first = await writeFirstShard(connection, q, join(dir, 'first.parquet'), progress);
    const shard0 = first.rows > 0 ? [{ filename: first.file, count: first.rows, shard: 0 }] : [];
    if (!first.more) return shard0;
    const rest = await runWithProgress(
      connection,
      shardsCopySql(q, join(dir, 'rest'), q.shardRows),
      progress,
    );
    return [...shard0, ...rest.getRowObjectsJS()];
  });
  const byShard = new Map<number, Written>();
  const pattern = new RegExp(`[\\\\/]${escape(q.shard)}=(\\d+)[\\\\/]`);
  for (const file of written) {
    const filename = String(file.filename);
    const n = file.shard === undefined ? Number(pattern.exec(filename)?.[1]) : Number(file.shard);
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
 * The first shard, by the plain writer, and whether the source holds more rows than it. The rows are counted
 * as they leave the numbering by a sequence (`nextval`, evaluated below the LIMIT, which no filter crosses), so a
 * row past the shard is seen without being written: one scan of the first `shardRows + 1` rows.
 */
async function writeFirstShard(
  connection: DuckDBConnection,
  q: ShardQuery,
  file: string,
  report: (percent: number) => void,
): Promise<{ file: string; rows: number; more: boolean }> {
  const counter = `dyff_rows_seen_${Math.random().toString(36).slice(2, 10)}`;
  await connection.run(`CREATE TEMP SEQUENCE ${counter} START 1`);
  try {
    const written = await runWithProgress(connection, firstShardSql(q, file, counter), report);
    const rows = Number(written.getRowObjectsJS()[0]?.count ?? 0);
    // A sequence no row reached has no current value.
    const seen =
      rows === 0
        ? 0
        : Number((await connection.runAndReadAll(`SELECT currval('${counter}')`)).getRows()[0]![0]);
    return { file, rows, more: seen > q.shardRows };
  } finally {
    await connection.run(`DROP SEQUENCE IF EXISTS ${counter}`);
  }
}

/**
 * The first shard's query: the rows `numbered`, counted by the sequence `counter` up to one row past the shard
 * (the LIMIT), and those of the shard written to `file` with RETURN_STATS.
 */
export function firstShardSql(q: ShardQuery, file: string, counter: string): string {
  const position = quotedIdentifier(q.position);
  // The shard column's name is free in the relation and the select list, and this query needs no shard column.
  const seen = quotedIdentifier(q.shard);
  return `COPY (
    SELECT ${q.select}
    FROM (
      SELECT *, nextval(${quotedString(counter)}) AS ${seen}
      FROM ${numbered(q)}
      LIMIT ${q.shardRows + 1}
    )
    WHERE ${position} < ${q.shardRows} AND ${seen} > 0
  ) TO ${quotedString(file)} (FORMAT parquet, RETURN_STATS true)`;
}

/**
 * The source's rows, each with its position (0-based) in `q.position`: `row_number() OVER ()` with no ordering is a
 * streaming window, not a sort.
 */
const numbered = (q: ShardQuery) =>
  `(SELECT (row_number() OVER () - 1)::BIGINT AS ${quotedIdentifier(q.position)}, * FROM ${q.relation})`;

/**
 * The partitioned write: the rows `numbered`, the shard number the position divided by `shardRows`; RETURN_STATS
 * gives each file's row count. From `from` on (the rows before it numbered, not written).
 */
export function shardsCopySql(q: ShardQuery, dir: string, from = 0): string {
  const position = quotedIdentifier(q.position);
  const shard = quotedIdentifier(q.shard);
  const number = q.shardBy === undefined ? `${position} // ${q.shardRows}` : quotedIdentifier(q.shardBy);
  return `COPY (
    SELECT ${q.select}, ${number} AS ${shard}
    FROM ${numbered(q)}${from > 0 ? `\n    WHERE ${position} >= ${from}` : ''}
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
