import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '../../src/adapters/index.js';
import { DyffClient } from '../../src/client.js';
import type { Config } from '../../src/config.js';
import { validateManifest } from '../../src/domain/manifest.js';
import { query } from '../support/duckdb.js';
import { serve } from '../support/http-fixture.js';
import type { RunningWorker } from '../support/temporal.js';
import { startWorker, testConfig } from '../support/temporal.js';

let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let adapters: Adapters;
let client: DyffClient;
let http: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  worker = await startWorker(config);
  adapters = worker.adapters;
  client = await DyffClient.connect(config, adapters);
  http = await serve({
    '/scores.csv': (_req, res) => res.end('id,score,comment\n1,0.5,good\n2,0.25,bad\n3,0.75,fine\n'),
  });
});
afterAll(async () => {
  await client.close();
  await worker.stop();
  await http.close();
  await cleanup();
});

async function createDataset(spec: unknown, name = 'it') {
  const manifest = validateManifest(
    { kind: 'Dataset', account: 'test', metadata: { name }, spec },
    `${name}.yaml`,
  );
  const { id } = await client.create(manifest, { baseDir: config.dataHome });
  return { id, view: await client.wait(id, { intervalMs: 200 }) };
}

function shardGlob(id: string): string {
  return join(config.dataHome, 'objects', 'datasets', id, 'data', '*.parquet');
}

describe('a Dataset end to end on the embedded backends', () => {
  it('fetches a CSV over HTTP, ingests it with renaming and a split, and DuckDB reads the shards back', async () => {
    const { id, view } = await createDataset({
      source: { kind: 'url', url: `${http.url}/scores.csv` },
      ingest: {
        format: 'csv',
        rename: { comment: 'note' },
        columns: ['id', 'score', 'note'],
        split: { fractions: { train: 2, test: 1 } },
      },
    });
    expect(view.status).toBe('Ready');
    expect(view.details).toMatchObject({ rowCount: 3 });
    const rows = await query(
      `SELECT _index_, id, note, split FROM read_parquet('${shardGlob(id)}') ORDER BY _index_`,
    );
    expect(rows.map((r) => [Number(r._index_), Number(r.id), r.note])).toEqual([
      [0, 1, 'good'],
      [1, 2, 'bad'],
      [2, 3, 'fine'],
    ]);
    expect(rows.every((r) => r.split === 'train' || r.split === 'test')).toBe(true);
    const logs = await client.logs(id);
    expect(logs.text).toContain('scores.csv');
  });

  it('a directory of text files labelled by folder becomes one row per file', async () => {
    const root = join(config.dataHome, 'mail');
    for (const [folder, files] of Object.entries({ 'ham-1': 3, 'ham-2': 2, spam: 4 })) {
      await import('node:fs/promises').then((fs) => fs.mkdir(join(root, folder), { recursive: true }));
      for (let i = 0; i < files; i++)
        await writeFile(join(root, folder, `${i}.txt`), `message ${folder} ${i}`);
    }
    const { id, view } = await createDataset({
      source: { kind: 'local', path: root },
      ingest: { format: 'text-folders', text: { labelPattern: '^(.*?)(?:-\\d+)?$' } },
    });
    expect(view.status).toBe('Ready');
    const counts = await query(
      `SELECT label, count(*)::INT AS n FROM read_parquet('${shardGlob(id)}') GROUP BY label ORDER BY label`,
    );
    expect(counts).toEqual([
      { label: 'ham', n: 5 },
      { label: 'spam', n: 4 },
    ]);
  });

  it('bad inputs end in Error with a reason naming the file, and what was stored before is intact', async () => {
    const good = await createDataset({
      source: { kind: 'url', url: `${http.url}/scores.csv` },
      ingest: { format: 'csv' },
    });
    const before = await adapters.objectStore.list('datasets', `${good.id}/`);
    const dir = join(config.dataHome, 'bad');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    await writeFile(join(dir, 'ragged.csv'), 'a,b\n1,2\n3,4,5\n');
    await writeFile(join(dir, 'empty.csv'), '');
    const cases: [string, unknown, string, RegExp][] = [
      ['404', { source: { kind: 'url', url: `${http.url}/missing.csv` } }, 'FetchFailed', /missing\.csv/],
      [
        'unreachable',
        { source: { kind: 'url', url: 'http://127.0.0.1:9/data.csv' } },
        'FetchFailed',
        /127\.0\.0\.1:9/,
      ],
      [
        'checksum mismatch',
        { source: { kind: 'url', url: `${http.url}/scores.csv`, checksum: { md5: '0'.repeat(32) } } },
        'FetchFailed',
        /scores\.csv/,
      ],
      [
        'ragged CSV',
        { source: { kind: 'local', path: join(dir, 'ragged.csv') }, ingest: { format: 'csv' } },
        'IngestFailed',
        /ragged\.csv/,
      ],
      [
        'empty CSV',
        { source: { kind: 'local', path: join(dir, 'empty.csv') }, ingest: { format: 'csv' } },
        'IngestFailed',
        /empty\.csv/,
      ],
      [
        'unknown column',
        {
          source: { kind: 'url', url: `${http.url}/scores.csv` },
          ingest: { format: 'csv', columns: ['nope'] },
        },
        'IngestFailed',
        /nope/,
      ],
      [
        'missing local path',
        { source: { kind: 'local', path: join(dir, 'absent') } },
        'FetchFailed',
        /absent/,
      ],
    ];
    for (const [name, spec, reason, mentions] of cases) {
      const { view } = await createDataset(spec, name.replaceAll(' ', '-'));
      expect(view.status, name).toBe('Error');
      expect(view.reason, name).toBe(reason);
      expect(view.message, name).toMatch(mentions);
    }
    expect((await client.get(good.id))?.status).toBe('Ready');
    expect(await adapters.objectStore.list('datasets', `${good.id}/`)).toEqual(before);
  });
});

export async function jobDirs(dataHome: string, entityId: string): Promise<string[]> {
  return (await readdir(join(dataHome, 'jobs'))).filter((n) => n.includes(entityId));
}
