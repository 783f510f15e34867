import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { pendingWork, WINDOW_BYTES, windowRows } from '../../../src/steps/evaluate/work.js';

async function collect(work: AsyncIterable<Iterable<{ index: number; replication: string }>>) {
  const out: string[] = [];
  for await (const batch of work) for (const item of batch) out.push(`${item.index}/${item.replication}`);
  return out;
}

describe('evaluate: pending work read in windows of _index_', () => {
  it('windows only rows too large for a chunk, each window within WINDOW_BYTES', () => {
    expect(windowRows(100)).toBeUndefined();
    expect(windowRows(200 * 1024)).toBe(Math.floor(WINDOW_BYTES / (200 * 1024)));
    expect(windowRows(64 * 1024 * 1024)).toBe(1);
    // Never below a row group, which DuckDB reads whole for each window that touches it.
    expect(windowRows(200 * 1024, 500)).toBe(500);
    expect(windowRows(200 * 1024, 20)).toBe(Math.floor(WINDOW_BYTES / (200 * 1024)));
  });

  it('gives the same items in the same order as one query, with gaps, a split and done pairs', async () => {
    const instance = await DuckDBInstance.create(':memory:', { preserve_insertion_order: 'true' });
    const c = await instance.connect();
    try {
      // _index_ 0..29 without 7..12 (a derived dataset's gap); split b filtered out on every third row.
      await c.run(`CREATE TABLE t AS SELECT i AS _index_, CASE WHEN i % 3 = 0 THEN 'b' ELSE 'a' END AS split
        FROM range(30) r(i) WHERE i NOT BETWEEN 7 AND 12`);
      await c.run(`CREATE VIEW rows AS SELECT * FROM t WHERE split = 'a'`);
      await c.run(
        `CREATE TABLE replications AS SELECT * FROM (VALUES ('r0', 0), ('r1', 1)) v(_replication_, _replication_number_)`,
      );
      await c.run(
        `CREATE TABLE done AS SELECT * FROM (VALUES ('r0', 1), ('r1', 1), ('r0', 14), ('r1', 29)) v(_replication_, _index_)`,
      );
      const whole = await collect(pendingWork(c));
      expect(whole).toHaveLength(2 * 16 - 4);
      const sorted = (xs: string[]) => [...xs].sort();
      for (const window of [1, 4, 5, 64]) {
        const windowed = await collect(pendingWork(c, window));
        expect(sorted(windowed)).toEqual(sorted(whole));
        // Windows come in _index_ order (inside one, DuckDB's order): the lowest _index_ is 1.
        const windows = windowed.map((x) => Math.floor((Number(x.split('/')[0]) - 1) / window));
        expect(windows).toEqual([...windows].sort((a, b) => a - b));
      }
      await c.run('DELETE FROM t');
      expect(await collect(pendingWork(c, 4))).toEqual([]);
    } finally {
      c.closeSync();
      instance.closeSync();
    }
  });
});
