import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';
import { ErrorType } from '../../domain/errors.js';
import { errorMessage, invalidInput } from '../errors.js';

export interface Engine {
  connection: DuckDBConnection;
  /**
   * Another connection to the same database, closed with the engine. A connection runs one query at a time: a
   * query on it, an appender's flush included, ends a result still streaming there.
   */
  connect(): Promise<DuckDBConnection>;
  close(): void;
}

/**
 * Rows a partitioned write gathers before handing them to the shards' writers. Kept well under half a Parquet
 * row group (122,880 rows): a smaller run waits in the writer's combine buffer, a larger one is written at once,
 * so a mix of both can put a shard's rows out of order; runs all below the bar stay in arrival order. DuckDB's
 * default (524,288) also holds twice as many rows in memory.
 */
const PARTITION_FLUSH_ROWS = 32_768;

/**
 * An in-memory database whose buffer manager spills to the scratch directory: what a query holds (staged text
 * files, a sort) stays under DuckDB's memory limit, so a dataset larger than RAM still ingests. Insertion order
 * is preserved: `_index_` is the row's position in the source. An abort interrupts the running query.
 */
export async function openEngine(dir: string, signal?: AbortSignal, limits?: EngineLimits): Promise<Engine> {
  const instance = await DuckDBInstance.create(':memory:', {
    temp_directory: join(dir, 'spill'),
    preserve_insertion_order: 'true',
    partitioned_write_flush_threshold: String(PARTITION_FLUSH_ROWS),
    ...(limits ? { memory_limit: limits.memoryLimit, max_temp_directory_size: limits.maxTempSize } : {}),
  });
  const connection = await instance.connect();
  // Query progress for long reads; DuckDB only tracks it with the progress bar on (printing stays off).
  await connection.run(
    'SET enable_progress_bar = true; SET enable_progress_bar_print = false; SET progress_bar_time = 0',
  );
  const others: DuckDBConnection[] = [];
  const interrupt = () => {
    connection.interrupt();
    for (const c of others) c.interrupt();
  };
  signal?.addEventListener('abort', interrupt, { once: true });
  return {
    connection,
    async connect() {
      const other = await instance.connect();
      others.push(other);
      return other;
    },
    close() {
      signal?.removeEventListener('abort', interrupt);
      for (const c of others) c.closeSync();
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** Runs `sql`, reporting DuckDB's own estimate of how far it is, in percent, about once a second. */
export async function runWithProgress(
  connection: DuckDBConnection,
  sql: string,
  report: (percent: number) => void,
  everyMs = 1000,
) {
  const timer = setInterval(() => {
    const { percentage } = connection.progress;
    if (percentage >= 0 && percentage < 100) report(Math.floor(percentage));
  }, everyMs);
  try {
    return await connection.runAndReadAll(sql);
  } finally {
    clearInterval(timer);
  }
}

/** What one DuckDB instance may use: `limits.duckdbMemoryLimit` and `limits.duckdbMaxTempSize`. */
export interface EngineLimits {
  memoryLimit: string;
  maxTempSize: string;
}

export const engineLimits = (l: { duckdbMemoryLimit: string; duckdbMaxTempSize: string }): EngineLimits => ({
  memoryLimit: l.duckdbMemoryLimit,
  maxTempSize: l.duckdbMaxTempSize,
});

/** DuckDB ran out of what its limits allow: restated with the settings that set them, so an operator can act. */
export function resourceError(err: unknown, limits: EngineLimits): Error | undefined {
  const message = errorMessage(err);
  if (!/Out of Memory Error|max_temp_directory_size/i.test(message)) return undefined;
  return invalidInput(
    `${message.split('\n')[0]} (limits.duckdbMemoryLimit = ${limits.memoryLimit}, limits.duckdbMaxTempSize = ${limits.maxTempSize})`,
  );
}

/** Messages DuckDB gives for bad input data, as opposed to resource trouble (memory, disk) worth a retry. */
const INPUT_ERRORS = /^(Invalid Input|Conversion) Error/;

/**
 * A DuckDB error about the data, restated for the user: local scratch paths become dataset paths, the first
 * line (the cause) is kept, and CSV errors are condensed to `file: line N: …`.
 */
export function dataError(err: unknown, localToPath: ReadonlyMap<string, string>): Error {
  let message = errorMessage(err);
  if (!INPUT_ERRORS.test(message)) return err instanceof Error ? err : new Error(message);
  for (const [local, path] of localToPath) message = message.split(local).join(path);
  const csv = csvError(message);
  if (csv) return invalidInput(csv);
  const firstLine = (message.split('\n')[0] ?? message).replace(INPUT_ERRORS, '').replace(/^:\s*/, '');
  return invalidInput(firstLine.trim(), ErrorType.InvalidSpec);
}

function csvError(message: string): string | undefined {
  const line = /CSV Error on Line: (\d+)/.exec(message)?.[1];
  const file = /^\s*file = (.*)$/m.exec(message)?.[1]?.trim();
  if (line === undefined || file === undefined) return undefined;
  const columns = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
  // After the header line comes the cause; "Original Line" only echoes the data.
  const detail = message
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('Original Line'));
  const cause = columns
    ? `expected ${columns[1]} columns, found ${columns[2]} (ragged CSV)`
    : (detail ?? 'invalid CSV');
  return `${file}: line ${line}: ${cause}`;
}
