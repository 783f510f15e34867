import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Engine } from '../../../src/steps/ingest/duckdb.js';
import { openEngine } from '../../../src/steps/ingest/duckdb.js';
import type { ShardQuery } from '../../../src/steps/ingest/shards.js';
import { writeShards } from '../../../src/steps/ingest/shards.js';

let dir: string;
let engine: Engine;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyff-shards-'));
  engine = await openEngine(dir);
});
afterEach(async () => {
  engine.close();
  await rm(dir, { recursive: true, force: true });
});

const query = (rows: number, shardRows: number, likelyRows?: number): ShardQuery => ({
  relation: `(SELECT i AS v, i::VARCHAR AS s FROM range(${rows}) r(i))`,
  position: 'p',
  shard: 'n',
  select: 'p AS _index_, v, s',
  shardRows,
  ...(likelyRows === undefined ? {} : { likelyRows }),
});

/** Per shard: rows, and how many rows sit elsewhere than at `_index_ - first index` (read in file order). */
async function layout(files: string[], shardRows: number) {
  const instance = await DuckDBInstance.create();
  const connection = await instance.connect();
  try {
    const out = [];
    for (const [n, file] of files.entries()) {
      const result = await connection.runAndReadAll(
        `SELECT count(*)::INT, count(*) FILTER (WHERE _index_ <> ${n * shardRows} + file_row_number OR v <> _index_)::INT
         FROM read_parquet('${file}', file_row_number = true)`,
      );
      const [rows, misplaced] = result.getRows()[0]!;
      out.push({ rows, misplaced });
    }
    return out;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

it('writes exact shards of shardRows rows, each in _index_ order, in one pass', async () => {
  const shards = await writeShards(engine.connection, query(1_000_000, 250_000), join(dir, 'out'), () => {});
  expect(shards.map((s) => [s.rows, s.resorted])).toEqual([
    [250_000, false],
    [250_000, false],
    [250_000, false],
    [250_000, false],
  ]);
  expect(
    await layout(
      shards.map((s) => s.file),
      250_000,
    ),
  ).toEqual([
    { rows: 250_000, misplaced: 0 },
    { rows: 250_000, misplaced: 0 },
    { rows: 250_000, misplaced: 0 },
    { rows: 250_000, misplaced: 0 },
  ]);
});

it('rewrites sorted a shard DuckDB wrote out of order (its default flush threshold does that)', async () => {
  await engine.connection.run('SET partitioned_write_flush_threshold = 524288');
  const shards = await writeShards(engine.connection, query(1_000_000, 250_000), join(dir, 'out'), () => {});
  expect(shards.some((s) => s.resorted)).toBe(true);
  expect(
    await layout(
      shards.map((s) => s.file),
      250_000,
    ),
  ).toEqual([
    { rows: 250_000, misplaced: 0 },
    { rows: 250_000, misplaced: 0 },
    { rows: 250_000, misplaced: 0 },
    { rows: 250_000, misplaced: 0 },
  ]);
});

it('writes nothing for a source with no rows', async () => {
  expect(await writeShards(engine.connection, query(0, 10), join(dir, 'out'), () => {})).toEqual([]);
});

it('writes on one DuckDB thread and gives the engine its threads back, also when the write fails', async () => {
  const threads = async () =>
    (await engine.connection.runAndReadAll("SELECT current_setting('threads')")).getRows()[0]![0];
  await engine.connection.run('SET threads = 2');
  await writeShards(engine.connection, query(10, 5), join(dir, 'out'), () => {});
  expect(await threads()).toBe(2n);
  const failing = { ...query(10, 5), relation: `(SELECT error('bad row') AS v, 'x' AS s FROM range(10))` };
  await expect(writeShards(engine.connection, failing, join(dir, 'bad'), () => {})).rejects.toThrow(
    /bad row/,
  );
  expect(await threads()).toBe(2n);
  // The same through the first shard's own query: its counting sequence goes too.
  await expect(
    writeShards(engine.connection, { ...failing, likelyRows: 10 }, join(dir, 'bad-first'), () => {}),
  ).rejects.toThrow(/bad row/);
  expect(await threads()).toBe(2n);
  const sequences = await engine.connection.runAndReadAll('SELECT count(*)::INT FROM duckdb_sequences()');
  expect(sequences.getRows()[0]![0]).toBe(0);
});

it('writes a source of at most shardRows rows as one shard by the plain writer, reading it once', async () => {
  for (const [rows, shardRows] of [
    [100_000, 100_000],
    [99_999, 100_000],
    [1, 100_000],
  ] as const) {
    const out = join(dir, `one-${rows}`);
    const progress: number[] = [];
    const shards = await writeShards(engine.connection, query(rows, shardRows, rows), out, (p) =>
      progress.push(p),
    );
    expect(shards.map((s) => [s.rows, s.resorted])).toEqual([[rows, false]]);
    expect(await layout([shards[0]!.file], shardRows)).toEqual([{ rows, misplaced: 0 }]);
    // No partitioned write: the shard is the plain writer's file, and nothing was read for a rest.
    expect(await readdir(out)).toEqual(['first.parquet']);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  }
  // The counting sequence is dropped once the shard is written.
  const sequences = await engine.connection.runAndReadAll('SELECT count(*)::INT FROM duckdb_sequences()');
  expect(sequences.getRows()[0]![0]).toBe(0);
});

it('sees the one row past the first shard, and writes it as a shard of its own', async () => {
  const likely = 100_000; // as a source a row longer than it looked would be
  const out = join(dir, 'out');
  const shards = await writeShards(engine.connection, query(100_001, 100_000, likely), out, () => {});
  expect(shards.map((s) => s.rows)).toEqual([100_000, 1]);
  expect((await readdir(out)).sort()).toEqual(['first.parquet', 'rest']);
  expect(
    await layout(
      shards.map((s) => s.file),
      100_000,
    ),
  ).toEqual([
    { rows: 100_000, misplaced: 0 },
    { rows: 1, misplaced: 0 },
  ]);
});

it('writes exact shards in order when the source holds many more rows than it looked to', async () => {
  const shards = await writeShards(
    engine.connection,
    query(1_000_000, 250_000, 200_000),
    join(dir, 'out'),
    () => {},
  );
  expect(shards.map((s) => s.rows)).toEqual([250_000, 250_000, 250_000, 250_000]);
  expect(
    await layout(
      shards.map((s) => s.file),
      250_000,
    ),
  ).toEqual(Array(4).fill({ rows: 250_000, misplaced: 0 }));
});

it('writes a source likely to hold several shards by the partitioned writer alone', async () => {
  const out = join(dir, 'out');
  const shards = await writeShards(engine.connection, query(400_000, 100_000, 400_000), out, () => {});
  expect(shards.map((s) => s.rows)).toEqual([100_000, 100_000, 100_000, 100_000]);
  expect(await readdir(out)).not.toContain('first.parquet');
});
