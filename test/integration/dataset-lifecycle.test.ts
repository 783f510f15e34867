import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
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
import { startHubServer } from './steps/helpers/hub-server.js';

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

  it('a Hugging Face Hub dataset, its token by reference, becomes a Dataset whose record names the commit', async () => {
    const hub = await startHubServer();
    const previous = process.env.HF_ENDPOINT;
    // The worker hands its HF_ENDPOINT to the fetch step, as it does to fetch-model.
    process.env.HF_ENDPOINT = hub.endpoint;
    try {
      const mails = 'text,label\nwin money,spam\nlunch?,ham\nfree prize,spam\n';
      hub.addDataset('acme/mails', {
        files: { 'README.md': '# mails', 'data/train.csv': mails },
        token: 'hf_e2e',
      });
      await mkdir(join(config.dataHome, 'secrets'), { recursive: true });
      await writeFile(join(config.dataHome, 'secrets', 'hub.json'), JSON.stringify({ token: 'hf_e2e' }), {
        mode: 0o600,
      });
      const { id, view } = await createDataset(
        {
          source: {
            kind: 'huggingFaceHub',
            repoID: 'acme/mails',
            token: { secretRef: { name: 'hub', key: 'token' } },
          },
          ingest: { format: 'auto' },
        },
        'hub-mails',
      );
      expect(view.status, JSON.stringify(view)).toBe('Ready');
      expect(view.details).toMatchObject({ rowCount: 3 });
      const record = JSON.parse(
        await readFile(join(config.dataHome, 'objects', 'datasets', id, 'manifest.json'), 'utf8'),
      );
      expect(record.commit).toBe(hub.commit);
      expect((await client.logs(id)).text).not.toContain('hf_e2e');
    } finally {
      if (previous === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = previous;
      await hub.close();
    }
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
