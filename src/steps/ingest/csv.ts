import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedIdentifier, quotedString } from '@duckdb/node-api';
import { open } from 'node:fs/promises';

/** Compression suffixes DuckDB reads transparently; they do not change the format. */
export const COMPRESSION = /\.(gz|zst)$/i;

export const csvDelimiter = (files: readonly string[]): string =>
  files.length > 0 && files.every((f) => /\.tsv$/i.test(f.replace(COMPRESSION, ''))) ? '\t' : ',';

/**
 * The dialect is fixed rather than sniffed: on a ragged file DuckDB's sniffer can "succeed" by choosing another
 * delimiter (one column, no error), or fail without saying which line is wrong.
 */
export function csvOptions(files: readonly string[]): string {
  return `header = true, strict_mode = true, delim = ${quotedString(csvDelimiter(files))}, quote = '"', escape = '"', skip = 0`;
}

/**
 * After the sniffer gave up on a file, read it again as all-VARCHAR columns named by its header line: with no
 * sniffing, a ragged line fails with its line number. Rejects with DuckDB's error, or resolves when the file reads.
 */
export async function rereadWithoutSniffing(
  connection: DuckDBConnection,
  file: string,
  delim: string,
): Promise<void> {
  const header = await firstLine(file);
  if (header === undefined || COMPRESSION.test(file)) return;
  const names = splitCsvLine(header, delim);
  const columns = names.map((_, i) => `${quotedString(`c${i}`)}: 'VARCHAR'`).join(', ');
  await connection.run(
    `SELECT count(${quotedIdentifier(`c${names.length - 1}`)}) FROM read_csv(${quotedString(file)}, auto_detect = false, ${csvOptions([file])}, columns = {${columns}})`,
  );
}

async function firstLine(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8');
    const end = text.search(/\r?\n/);
    return end < 0 ? (bytesRead < buf.length ? text : undefined) : text.slice(0, end);
  } finally {
    await handle.close();
  }
}

/** Fields of one CSV line, with `"` quoting; enough to count a header's columns. */
export function splitCsvLine(line: string, delim: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') field += line[++i];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === delim) {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}
