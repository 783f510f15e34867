import type { DuckDBConnection } from '@duckdb/node-api';
import type { DuckDBDataChunk, JS } from '@duckdb/node-api';
import { JSDuckDBValueConverter } from '@duckdb/node-api';
import { invalidInput } from '../errors.js';
import type { JsonObject } from './json-path.js';

/** One request to make: a dataset row for one replication. */
export interface WorkItem {
  index: number;
  replication: string;
  row: JsonObject;
}

/**
 * The (row, replication) pairs not yet done, in an order that sends all replications of a row together. DuckDB
 * streams them in chunks of about two thousand rows, so memory stays flat however large the dataset is; the
 * anti-join against `done` is what makes a restarted client resend only what is missing.
 */
const PENDING = `
  FROM rows CROSS JOIN replications
  ANTI JOIN done ON done._index_ = rows._index_ AND done._replication_ = replications._replication_`;

export async function countWork(connection: DuckDBConnection): Promise<{ rows: number; pending: number }> {
  const reader = await connection.runAndReadAll(
    `SELECT (SELECT count(*) FROM rows) AS rows, (SELECT count(*) ${PENDING}) AS pending`,
  );
  const [row] = reader.getRowObjectsJS();
  return { rows: Number(row!.rows), pending: Number(row!.pending) };
}

/** Bytes of dataset rows one query of the pending work reads at most, when rows are large (images). */
export const WINDOW_BYTES = 8 * 1024 * 1024;
const CHUNK_ROWS = 2048;

/**
 * Rows per query of the pending work: all of them (one streamed query) when a chunk of DuckDB's rows is small;
 * otherwise as many as fit in `WINDOW_BYTES`. DuckDB's streamed result hands over chunks of up to 2,048 rows,
 * gathered across Parquet row groups, and each is copied into JavaScript whole: 2,048 images of 200 KiB would
 * be 400 MiB at once. A window is never smaller than `rowGroupRows` (the dataset's largest Parquet row group),
 * which DuckDB would otherwise read once per window.
 */
export function windowRows(bytesPerRow: number, rowGroupRows = 0): number | undefined {
  if (!(bytesPerRow * CHUNK_ROWS > WINDOW_BYTES)) return undefined;
  return Math.max(1, Math.floor(WINDOW_BYTES / bytesPerRow), rowGroupRows);
}

/**
 * The pending items a chunk at a time: the caller pays one async step per chunk. With `window`, one query per
 * run of `window` consecutive `_index_` values, each reading only the row groups that hold them.
 */
export async function* pendingWork(
  connection: DuckDBConnection,
  window?: number,
): AsyncGenerator<Iterable<WorkItem>> {
  if (window === undefined) {
    yield* pendingIn(connection, '');
    return;
  }
  const [bounds] = (await connection.runAndReadAll('SELECT min(_index_), max(_index_) FROM rows')).getRows();
  if (bounds?.[0] === null || bounds?.[0] === undefined) return;
  const [lo, hi] = [Number(bounds[0]), Number(bounds[1])];
  for (let s = lo; s <= hi; s += window) {
    yield* pendingIn(connection, ` WHERE rows._index_ >= ${s} AND rows._index_ < ${s + window}`);
  }
}

async function* pendingIn(connection: DuckDBConnection, where: string): AsyncGenerator<Iterable<WorkItem>> {
  const result = await connection.stream(
    `SELECT replications._replication_ AS "${REPLICATION}", rows.* ${PENDING}${where}`,
  );
  const names = result.columnNames().slice(1);
  for await (const chunk of result) yield items(chunk, names);
}

/**
 * A chunk's rows, each turned into its one JSON object as the client takes it rather than the whole chunk at once:
 * objects made 2,048 at a time waited up to a second to be sent, outlived V8's young-generation collections and
 * were copied into the old generation (bench:inference, `--trace-gc-nvp`).
 */
function* items(chunk: DuckDBDataChunk, names: string[]): Generator<WorkItem> {
  const count = chunk.rowCount;
  for (let i = 0; i < count; i++) {
    const values = chunk.convertRowValues(i, JSDuckDBValueConverter);
    const row: JsonObject = {};
    for (let c = 0; c < names.length; c++) row[names[c]!] = toJson(values[c + 1]!);
    if (typeof row._index_ !== 'number') {
      throw invalidInput(`_index_ ${JSON.stringify(row._index_)} is not an integer below 2^53`);
    }
    yield { index: row._index_, replication: values[0] as string, row };
  }
}

const REPLICATION = '__dyff_replication__';

/** DuckDB's JS values as JSON: big integers as numbers when exact (else strings), dates as ISO strings. */
export function toJson(value: JS): JsonObject[string] {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJson);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
  return out;
}
