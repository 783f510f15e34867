import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAdapters } from '../../src/adapters/index.js';
import type { Adapters } from '../../src/adapters/index.js';
import { DyffClient } from '../../src/client.js';
import type { Config } from '../../src/config.js';
import { validateManifest } from '../../src/domain/manifest.js';
import { query } from '../support/duckdb.js';
import { serve } from '../support/http-fixture.js';
import { testConfig } from '../support/temporal.js';
import { spawnWorker, until } from '../support/worker-process.js';
import { groupAlive as processGroupAlive } from '../../src/adapters/process-group.js';

let config: Config;
let cleanup: () => Promise<void>;
let adapters: Adapters;
let client: DyffClient;

const ROWS = 400_000;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  adapters = await createAdapters(config);
  client = await DyffClient.connect(config, adapters);
});
afterAll(async () => {
  await client.close();
  await adapters.close();
  await cleanup();
});

function pidOf(dir: string): number | undefined {
  return existsSync(join(dir, 'pid')) ? Number(readFileSync(join(dir, 'pid'), 'utf8')) : undefined;
}

it('SIGKILL of the worker during ingest: a new worker adopts the running job; Ready, one ingest, no duplicate rows', async () => {
  const csv = join(config.dataHome, 'big.csv');
  const lines = ['n,word,value'];
  for (let i = 0; i < ROWS; i++) lines.push(`${i},w${i % 977},${(i * 0.37).toFixed(2)}`);
  await writeFile(csv, `${lines.join('\n')}\n`);
  const manifest = validateManifest({
    kind: 'Dataset',
    account: 'test',
    spec: { source: { kind: 'local', path: csv }, ingest: { format: 'csv', shardRows: 100_000 } },
  });

  const first = await spawnWorker(config);
  const { id } = await client.create(manifest);
  const ingestDir = join(config.dataHome, 'jobs', `ingest-${id}-1`);
  await until('the ingest job to start', async () => existsSync(join(ingestDir, 'pid')));
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const pid = pidOf(ingestDir)!;
  const stillRunning = processGroupAlive(pid) && !existsSync(join(ingestDir, 'exit'));

  const second = await spawnWorker(config);
  try {
    const view = await client.wait(id, { intervalMs: 250 });
    expect(view.status, view.message).toBe('Ready');
    expect(view.details).toMatchObject({ rowCount: ROWS });
  } finally {
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  }
  // The kill landed while the job ran; the job outlived its worker, and exactly one ingest job exists.
  expect(stillRunning).toBe(true);
  const jobs = (await readdir(join(config.dataHome, 'jobs'))).filter((n) => n.includes(id));
  expect(jobs.sort()).toEqual([`fetch-${id}-1`, `ingest-${id}-1`]);
  expect((await readFile(join(ingestDir, 'exit'), 'utf8')).trim()).toBe('0');
  const [counts] = await query(
    `SELECT count(*)::BIGINT AS n, count(DISTINCT _index_)::BIGINT AS d, min(_index_)::BIGINT AS lo, max(_index_)::BIGINT AS hi
     FROM read_parquet('${join(config.dataHome, 'objects', 'datasets', id, 'data', '*.parquet')}')`,
  );
  expect(counts).toEqual({ n: BigInt(ROWS), d: BigInt(ROWS), lo: 0n, hi: BigInt(ROWS - 1) });
});

it('cancel while fetching: Terminated, no process left, and the partial download is not taken for a complete file', async () => {
  let servedBytes = 0;
  const http = await serve({
    // A large file trickled out slowly, so the fetch is certainly running when the cancel arrives.
    '/slow.bin': (_req, res) => {
      res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
      const timer = setInterval(() => {
        servedBytes += 16 * 1024;
        res.write(Buffer.alloc(16 * 1024, 7));
      }, 20);
      res.on('close', () => clearInterval(timer));
    },
  });
  const worker = await spawnWorker(config);
  try {
    const manifest = validateManifest({
      kind: 'Dataset',
      account: 'test',
      spec: { source: { kind: 'url', url: `${http.url}/slow.bin` } },
    });
    const { id } = await client.create(manifest);
    const fetchDir = join(config.dataHome, 'jobs', `fetch-${id}-1`);
    await until(
      'the download to be under way',
      async () => existsSync(join(fetchDir, 'pid')) && servedBytes > 256 * 1024,
    );
    const pid = pidOf(fetchDir)!;
    await client.cancel(id);
    const view = await client.wait(id, { intervalMs: 100 });
    expect(view).toMatchObject({ status: 'Terminated', reason: 'TerminateCommand' });
    await until('the job process group to be gone', async () => !processGroupAlive(pid), 10_000);
    expect(await adapters.objectStore.list('rawdata', `${id}/`)).toEqual(
      (await adapters.objectStore.list('rawdata', `${id}/`)).filter((o) => o.key.endsWith('logs.txt')),
    );
    expect(await adapters.objectStore.stat('rawdata', `${id}/manifest.json`)).toBeUndefined();
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await http.close();
  }
});
