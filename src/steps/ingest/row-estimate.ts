import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedString } from '@duckdb/node-api';
import { open } from 'node:fs/promises';
import { COMPRESSION } from './csv.js';
import type { Format } from './formats.js';

/** Bytes read from the start of the first files to learn a text source's bytes per line. */
const SAMPLE_BYTES = 1 << 20;
const SAMPLED_FILES = 4;

/**
 * About how many rows the source holds, cheaply, to choose how its shards are written (`writeShards`); undefined
 * when that cannot be told without reading it. Parquet: the footers' counts, exact. Uncompressed CSV and JSON
 * lines: the files' sizes over the bytes per line at the start of the first files (a header line, or a quoted
 * field over several lines, moves it a little). Anything else: undefined.
 */
export async function likelyRows(
  connection: DuckDBConnection,
  format: Format,
  /** The source's files (local paths) with their sizes in bytes. */
  files: readonly { local: string; size: number }[],
): Promise<number | undefined> {
  if (files.length === 0) return undefined;
  if (format === 'parquet') {
    const list = `[${files.map((f) => quotedString(f.local)).join(', ')}]`;
    const counted = await connection.runAndReadAll(
      `SELECT sum(num_rows) FROM parquet_file_metadata(${list})`,
    );
    return Number(counted.getRows()[0]?.[0] ?? 0);
  }
  if ((format !== 'csv' && format !== 'jsonl') || files.some((f) => COMPRESSION.test(f.local)))
    return undefined;
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  let sampled = 0;
  let lines = 0;
  const buffer = Buffer.alloc(SAMPLE_BYTES);
  for (const f of files.slice(0, SAMPLED_FILES)) {
    const handle = await open(f.local, 'r');
    try {
      const { bytesRead } = await handle.read(buffer, 0, SAMPLE_BYTES, 0);
      sampled += bytesRead;
      for (let i = buffer.indexOf(10); i !== -1 && i < bytesRead; i = buffer.indexOf(10, i + 1)) lines++;
    } finally {
      await handle.close();
    }
    if (sampled >= SAMPLE_BYTES) break;
  }
  if (lines === 0) return undefined;
  return Math.round(bytes / (sampled / lines));
}
