import { quotedString } from '@duckdb/node-api';
import type { IngestSpec } from '../../domain/specs.js';
import { invalidInput } from '../errors.js';
import { COMPRESSION, csvOptions } from './csv.js';

export type Format = Exclude<IngestSpec['format'], 'auto'>;
export type TableFormat = Exclude<Format, 'text-folders' | 'image-folders'>;

const BY_EXTENSION: Record<string, Format> = {
  csv: 'csv',
  tsv: 'csv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  json: 'json',
  parquet: 'parquet',
  txt: 'text-folders',
  png: 'image-folders',
  jpg: 'image-folders',
  jpeg: 'image-folders',
};

export function formatOfPath(path: string): Format | undefined {
  const ext = /\.([^./]+)$/.exec(path.replace(COMPRESSION, ''))?.[1]?.toLowerCase();
  return ext === undefined ? undefined : BY_EXTENSION[ext];
}

/** `auto` resolves from the extensions, which must all agree; the error lists the files of each kind. */
export function resolveFormat(format: IngestSpec['format'], paths: readonly string[]): Format {
  if (format !== 'auto') return format;
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const kind = formatOfPath(p) ?? 'unknown';
    groups.set(kind, [...(groups.get(kind) ?? []), p]);
  }
  const [only] = groups.keys();
  if (groups.size === 1 && only !== 'unknown') return only as Format;
  const listing = [...groups]
    .map(([kind, files]) => `${kind}: ${files.slice(0, 5).join(', ')}${files.length > 5 ? ', …' : ''}`)
    .join('; ');
  throw invalidInput(
    groups.size === 1
      ? `spec.ingest.format: cannot infer the format from the file names (${listing}); set spec.ingest.format`
      : `spec.ingest.format: the files have mixed formats under format auto (${listing}); set spec.ingest.include or spec.ingest.format`,
  );
}

/** A DuckDB table function reading all `files` (local paths) in order: rows of the first file, then the next… */
export function readerSql(format: TableFormat, files: readonly string[]): string {
  const list = `[${files.map(quotedString).join(', ')}]`;
  switch (format) {
    case 'csv':
      return `read_csv(${list}, ${csvOptions(files)})`;
    case 'jsonl':
      return `read_json(${list}, format = 'newline_delimited')`;
    case 'json':
      return `read_json(${list}, format = 'array')`;
    case 'parquet':
      return `read_parquet(${list}, union_by_name = true)`;
  }
}
