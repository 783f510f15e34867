import type { DuckDBConnection } from '@duckdb/node-api';
import type { IngestSpec } from '../../domain/specs.js';
import type { StepLog } from '../context.js';
import { invalidInput } from '../errors.js';
import { csvDelimiter, rereadWithoutSniffing } from './csv.js';
import { dataError, runWithProgress } from './duckdb.js';
import type { Format, TableFormat } from './formats.js';
import { readerSql } from './formats.js';
import { DEFAULT_TEXT_OPTIONS, stageTextFolders } from './text-folders.js';

export interface LocalFile {
  /** Relative to the raw data root, as in the raw manifest. */
  path: string;
  local: string;
  size: number;
}

/**
 * Loads every input row into the table `staged`, in file-path order then row order, so that `rowid` is the
 * stable `_index_`. Errors in the data are restated with the dataset's file names.
 */
export async function stage(
  connection: DuckDBConnection,
  format: Format,
  files: readonly LocalFile[],
  ingest: IngestSpec,
  log: StepLog,
  signal?: AbortSignal,
): Promise<void> {
  if (format === 'text-folders') {
    await stageTextFolders(connection, files, { ...DEFAULT_TEXT_OPTIONS, ...ingest.text }, log, signal);
    return;
  }
  const names = new Map(files.map((f) => [f.local, f.path]));
  const empty = files.find((f) => f.size === 0);
  if (empty) throw invalidInput(`${empty.path}: empty file (0 bytes)`);
  const read = async (sql: string, some: readonly LocalFile[]) => {
    const report = (done: number) =>
      log.progress({ done, total: 100, unit: 'percent', message: `read ${format}` });
    try {
      return await runWithProgress(connection, sql, report);
    } catch (err) {
      if (format === 'csv' && /Error when sniffing file/.test(String(err)))
        await explainCsv(connection, some, names);
      throw dataError(err, names);
    }
  };
  // With one file a count of zero says which file is empty; with several, each is asked for one row.
  if (files.length > 1) {
    for (const f of files) {
      signal?.throwIfAborted();
      const probe = await read(`SELECT 1 FROM ${readerSql(format, [f.local])} LIMIT 1`, [f]);
      if (probe.currentRowCount === 0) throw noRows(f, format);
    }
  }
  await read(
    `CREATE TABLE staged AS SELECT * FROM ${readerSql(
      format,
      files.map((f) => f.local),
    )}`,
    files,
  );
  if (files.length === 1 && (await countRows(connection)) === 0) throw noRows(files[0]!, format);
}

export async function countRows(connection: DuckDBConnection): Promise<number> {
  const result = await connection.runAndReadAll('SELECT count(*) FROM staged');
  return Number(result.getRows()[0]?.[0] ?? 0);
}

function noRows(f: LocalFile, format: TableFormat): Error {
  return invalidInput(`${f.path}: empty ${format === 'csv' ? 'CSV' : format} file (no rows)`);
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
