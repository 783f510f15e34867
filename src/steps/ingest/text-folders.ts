import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedIdentifier } from '@duckdb/node-api';
import { readFile } from 'node:fs/promises';
import type { IngestSpec } from '../../domain/specs.js';
import type { StepLog } from '../context.js';
import { invalidInput } from '../errors.js';

type TextOptions = NonNullable<IngestSpec['text']>;

export interface TextFile {
  /** Relative to the raw data root; its first segment is the label folder. */
  path: string;
  local: string;
}

export const DEFAULT_TEXT_OPTIONS: TextOptions = {
  textColumn: 'text',
  labelColumn: 'label',
  encoding: 'strict',
};

/** A label from a folder name: the pattern's first group (or whole match); `^(.*?)(-\d+)?$` maps spam-2 to spam. */
export function labeller(
  pattern: string | undefined,
  field = 'spec.ingest.text.labelPattern',
): (folder: string, path: string) => string {
  if (pattern === undefined) return (folder) => folder;
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (err) {
    throw invalidInput(`${field}: invalid regular expression: ${(err as Error).message}`);
  }
  return (folder, path) => {
    const m = re.exec(folder);
    if (!m) throw invalidInput(`${path}: folder ${JSON.stringify(folder)} does not match ${field}`);
    return m[1] ?? m[0];
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

export function decodeText(bytes: Buffer, encoding: TextOptions['encoding'], path: string): string {
  if (encoding === 'latin1') return bytes.toString('latin1');
  if (encoding === 'replace') return lenientUtf8.decode(bytes);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw invalidInput(
      `${path}: not valid UTF-8 (set spec.ingest.text.encoding to replace or latin1 to accept such files)`,
    );
  }
}

/**
 * Stages one row per file (text, label, `path`) in `staged`, in path order, through a DuckDB appender: one file
 * is in memory at a time, and DuckDB spills the table to disk.
 */
export async function stageTextFolders(
  connection: DuckDBConnection,
  files: readonly TextFile[],
  options: TextOptions,
  log: StepLog,
  signal?: AbortSignal,
): Promise<void> {
  const { textColumn, labelColumn } = options;
  const names = [textColumn, labelColumn, 'path'];
  if (new Set(names).size !== names.length) {
    throw invalidInput(`spec.ingest.text: textColumn, labelColumn and path must be three different names`);
  }
  const labelOf = labeller(options.labelPattern);
  await connection.run(
    `CREATE TABLE staged (${names.map((n) => `${quotedIdentifier(n)} VARCHAR`).join(', ')})`,
  );
  const appender = await connection.createAppender('staged');
  try {
    for (const [i, f] of files.entries()) {
      signal?.throwIfAborted();
      const slash = f.path.indexOf('/');
      if (slash < 0) throw invalidInput(`${f.path}: text-folders needs every file inside a label folder`);
      const label = labelOf(f.path.slice(0, slash), f.path);
      const text = decodeText(await readFile(f.local), options.encoding, f.path);
      appender.appendVarchar(text);
      appender.appendVarchar(label);
      appender.appendVarchar(f.path);
      appender.endRow();
      log.progress({ done: i + 1, total: files.length, unit: 'rows', message: `read ${f.path}` });
    }
  } finally {
    appender.closeSync();
  }
}
