import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FilesystemObjectStore } from '../../src/adapters/object-store/filesystem.js';

/** Each row's text, the same for the dataset and the load generator's body, so both send requests of one size. */
export const TEXT_SQL = `'message ' || lpad(i::VARCHAR, 8, '0') || ' ' || repeat('lorem ipsum ', 15)`;
export const sampleText = (i: number) => `message ${String(i).padStart(8, '0')} ${'lorem ipsum '.repeat(15)}`;

async function withDuckDB<T>(run: (db: Awaited<ReturnType<DuckDBInstance['connect']>>) => Promise<T>) {
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    return await run(db);
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/** A dataset as ingest leaves it: `rows` rows of `_index_` and `text`, one Parquet shard and its manifest. */
export async function putDataset(store: FilesystemObjectStore, dir: string, id: string, rows: number) {
  const parquet = join(dir, 'dataset.parquet');
  await withDuckDB((db) =>
    db.run(`COPY (SELECT i::BIGINT AS _index_, ${TEXT_SQL} AS text FROM range(${rows}) t(i))
      TO ${quotedString(parquet)} (FORMAT parquet)`),
  );
  const info = await store.put('datasets', `${id}/data/part-00000.parquet`, await readFile(parquet));
  const artifacts = [
    { kind: 'parquet', path: 'data/part-00000.parquet', rows, size: info.size, digest: { md5: info.md5 } },
  ];
  await store.put('datasets', `${id}/manifest.json`, JSON.stringify({ rowCount: rows, artifacts }));
}

/** Rows in the Parquet files (paths already quoted for SQL). */
export async function countParquetRows(quotedPaths: readonly string[]): Promise<number> {
  if (quotedPaths.length === 0) return 0;
  return withDuckDB(async (db) => {
    const reader = await db.runAndReadAll(`SELECT count(*) FROM read_parquet([${quotedPaths.join(', ')}])`);
    return Number(reader.getRowsJS()[0]![0]);
  });
}
