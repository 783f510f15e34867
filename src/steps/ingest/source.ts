import type { DuckDBConnection } from '@duckdb/node-api';
import type { IngestSpec } from '../../domain/specs.js';
import type { StepLog } from '../context.js';
import { invalidInput } from '../errors.js';
import { csvDelimiter, rereadWithoutSniffing } from './csv.js';
import { dataError } from './duckdb.js';
import type { Format } from './formats.js';
import { readerSql } from './formats.js';
import type { ShardLimits } from './image-folders.js';
import { DEFAULT_IMAGE_OPTIONS, stageImageFolders } from './image-folders.js';
import { IMAGE_ROW_GROUP_BYTES } from './row-groups.js';
import { DEFAULT_TEXT_OPTIONS, stageTextFolders } from './text-folders.js';

export interface LocalFile {
  /** Relative to the raw data root, as in the raw manifest. */
  path: string;
  local: string;
  size: number;
}

/** Where the input rows come from: a relation DuckDB scans in file-path order, then row order. */
export interface Source {
  /** A table function over the raw files (read where they lie), or a table (text folders). */
  relation: string;
  columns: string[];
  /** An empty table with the source's columns and types: a query bound to it needs no second sniff of the files. */
  shape: string;
  /** Runs a query over the source, restating errors in the data with the dataset's file names. */
  read<T>(run: () => Promise<T>): Promise<T>;
  /** The error for a source that turned out to hold no rows. */
  noRows(): Error;
  /** A column of `relation` (not in `columns`) holding each row's shard number, when the source chose them. */
  shardBy?: string;
  /** Bytes of data per Parquet row group, for rows too large for a shard to be read as one group. */
  rowGroupBytes?: number;
}

/**
 * The input rows as a relation, not a copy: tables formats are read by the query that writes the shards, so the
 * files are parsed once. Text folders are the exception: their rows (one per file, labelled by folder) are built
 * in JavaScript and staged in a table, which DuckDB spills to disk.
 */
export async function openSource(
  connection: DuckDBConnection,
  format: Format,
  files: readonly LocalFile[],
  ingest: IngestSpec,
  limits: ShardLimits,
  log: StepLog,
  signal?: AbortSignal,
): Promise<Source> {
  const names = new Map(files.map((f) => [f.local, f.path]));
  const read = async <T>(run: () => Promise<T>, some: readonly LocalFile[] = files): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (format === 'csv' && /Error when sniffing file/.test(String(err)))
        await explainCsv(connection, some, names);
      throw dataError(err, names);
    }
  };
  const opened = async (relation: string, noRows: () => Error): Promise<Source> => {
    await read(() => connection.run(`CREATE TEMP TABLE source_shape AS SELECT * FROM ${relation} LIMIT 0`));
    const columns = (await connection.runAndReadAll('SELECT * FROM source_shape')).columnNames();
    return { relation, columns, shape: 'source_shape', read, noRows };
  };
  const noRowsAtAll = () => invalidInput('the input files hold no rows');

  if (format === 'text-folders') {
    await stageTextFolders(connection, files, { ...DEFAULT_TEXT_OPTIONS, ...ingest.text }, log, signal);
    return opened('staged', noRowsAtAll);
  }
  if (format === 'image-folders') {
    const options = { ...DEFAULT_IMAGE_OPTIONS, ...ingest.images };
    const shardBy = await stageImageFolders(connection, files, options, limits, log, signal);
    const source = await opened('staged', noRowsAtAll);
    return {
      ...source,
      columns: source.columns.filter((c) => c !== shardBy),
      shardBy,
      rowGroupBytes: IMAGE_ROW_GROUP_BYTES,
    };
  }
  const empty = files.find((f) => f.size === 0);
  if (empty) throw invalidInput(`${empty.path}: empty file (0 bytes)`);
  const noRowsIn = (f: LocalFile) =>
    invalidInput(`${f.path}: empty ${format === 'csv' ? 'CSV' : format} file (no rows)`);
  // With one file, the write's count of zero says which file is empty; with several, each is asked for one row.
  if (files.length > 1) {
    for (const f of files) {
      signal?.throwIfAborted();
      const sql = `SELECT 1 FROM ${readerSql(format, [f.local])} LIMIT 1`;
      const probe = await read(() => connection.runAndReadAll(sql), [f]);
      if (probe.currentRowCount === 0) throw noRowsIn(f);
    }
  }
  const relation = readerSql(
    format,
    files.map((f) => f.local),
  );
  return opened(relation, files.length === 1 ? () => noRowsIn(files[0]!) : noRowsAtAll);
}

/** When the sniffer gives up, re-read each file without it to name the offending line. */
async function explainCsv(
  connection: DuckDBConnection,
  files: readonly LocalFile[],
  names: ReadonlyMap<string, string>,
): Promise<void> {
  const delim = csvDelimiter(files.map((f) => f.path));
  for (const f of files) {
    try {
      await rereadWithoutSniffing(connection, f.local, delim);
    } catch (err) {
      throw dataError(err, names);
    }
  }
}
