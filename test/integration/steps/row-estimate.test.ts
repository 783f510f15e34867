import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { likelyRows } from '../../../src/steps/ingest/row-estimate.js';

let dir: string;
let instance: DuckDBInstance;
const connection = () => instance.connect();
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyff-rows-'));
  instance = await DuckDBInstance.create();
});
afterAll(async () => {
  instance.closeSync();
  await rm(dir, { recursive: true, force: true });
});

/** Files as the step knows them: local path and size. */
const local = (...paths: string[]) =>
  Promise.all(paths.map(async (p) => ({ local: p, size: (await stat(p)).size })));

/** Rows of uneven length, as real text columns are. */
const csvRows = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `${from + i},"${'word '.repeat((from + i) % 17)}",${(i * 7) % 100}`);

it('tells a CSV source’s rows from its size and the bytes per line at its start', async () => {
  // 3 MiB or so: more than the sample, so the rest is estimated.
  const big = join(dir, 'big.csv');
  await writeFile(big, ['id,text,n', ...csvRows(60_000)].join('\n') + '\n');
  const estimate = (await likelyRows(await connection(), 'csv', await local(big)))!;
  expect(Math.abs(estimate - 60_000) / 60_000).toBeLessThan(0.1);
  // Several files: the sizes of all, the bytes per line of the first.
  const second = join(dir, 'second.csv');
  await writeFile(second, ['id,text,n', ...csvRows(30_000, 60_000)].join('\n') + '\n');
  const both = (await likelyRows(await connection(), 'csv', await local(big, second)))!;
  expect(Math.abs(both - 90_000) / 90_000).toBeLessThan(0.1);
});

it('counts the lines of a text source smaller than the sample', async () => {
  const small = join(dir, 'small.jsonl');
  await writeFile(small, Array.from({ length: 500 }, (_, i) => JSON.stringify({ i })).join('\n') + '\n');
  expect(await likelyRows(await connection(), 'jsonl', await local(small))).toBe(500);
});

it('reads a Parquet source’s count from its footers', async () => {
  const c = await connection();
  const files = [join(dir, 'a.parquet'), join(dir, 'b.parquet')];
  await c.run(`COPY (SELECT range AS i FROM range(12345)) TO '${files[0]}' (FORMAT parquet)`);
  await c.run(`COPY (SELECT range AS i FROM range(678)) TO '${files[1]}' (FORMAT parquet)`);
  expect(await likelyRows(c, 'parquet', await local(...files))).toBe(12_345 + 678);
});

it('does not guess for a compressed file, a JSON array, or a file without a line', async () => {
  const gz = join(dir, 'rows.csv.gz');
  await writeFile(gz, gzipSync(['id,text,n', ...csvRows(1000)].join('\n')));
  const array = join(dir, 'rows.json');
  await writeFile(array, JSON.stringify([{ i: 1 }, { i: 2 }]));
  const oneLine = join(dir, 'one.csv');
  await writeFile(oneLine, 'id,text,n');
  const c = await connection();
  expect(await likelyRows(c, 'csv', await local(gz))).toBeUndefined();
  expect(await likelyRows(c, 'json', await local(array))).toBeUndefined();
  expect(await likelyRows(c, 'csv', await local(oneLine))).toBeUndefined();
});
