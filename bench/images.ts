/**
 * Image evaluation-client benchmark: the client's memory on an image dataset larger than memory should ever need.
 * Writes datasets of each size in `--gib` under a temp dir (Parquet shards of `--shard-mib` in row groups of
 * `--row-group-mib`, with a BLOB column of incompressible PNGs, as image-folders ingest leaves them), then runs
 * the evaluate step on each in a process of its own against a loopback endpoint that reads and discards each
 * body. A client whose memory is bounded peaks at about the same RSS on all of them: the last line (key=value
 * pairs) gives each peak and the ratio of the largest dataset's peak to the smallest's. `--row-group-mib 0`
 * writes one row group per shard (the layout before row groups were bounded), for comparison. Everything it
 * wrote is removed at the end.
 *
 *   npm run bench:images -- [--gib 0.25,1.25] [--side 256] [--shard-mib 64] [--row-group-mib 4] [--concurrency 16]
 */
import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { FilesystemObjectStore } from '../src/adapters/object-store/filesystem.js';
import { IMAGE_ROW_GROUP_BYTES, rowGroupRows, rowGroupsCopySql } from '../src/steps/ingest/row-groups.js';
import { noisePng } from './images/png.js';
import { countParquetRows } from './inference/dataset.js';
import { benchArgs, refuse } from './cli.js';

const USAGE = `npm run bench:images -- [--gib 0.25,1.25] [--side 256] [--shard-mib 64] [--row-group-mib 4] [--concurrency 16]

The evaluate step's memory on image datasets of each size (Parquet shards of PNGs), each run in a process of its
own against a loopback endpoint; the last line gives each peak RSS and the largest's over the smallest's.

  --gib LIST           dataset sizes in GiB (default 0.25,1.25)
  --side N             image side in pixels (default 256: PNGs of ~193 KiB, about an ImageNet JPEG's size)
  --shard-mib N        Parquet shard size (default 64)
  --row-group-mib N    row group size; 0 writes one row group per shard (default 4)
  --concurrency N      the client's requests in flight (default 16)`;
const values = benchArgs(USAGE, {
  gib: { type: 'string', default: '0.25,1.25' },
  side: { type: 'string', default: '256' },
  'shard-mib': { type: 'string', default: '64' },
  'row-group-mib': { type: 'string', default: String(IMAGE_ROW_GROUP_BYTES / 2 ** 20) },
  concurrency: { type: 'string', default: '16' },
});
const sizes = values.gib.split(',').map((g) => Number(g) * 2 ** 30);
const side = Number(values.side);
const shardBytes = Number(values['shard-mib']) * 2 ** 20;
const rowGroupBytes = Number(values['row-group-mib']) * 2 ** 20;
const concurrency = Number(values.concurrency);
if (![...sizes, side, shardBytes, concurrency].every((n) => n > 0) || !(rowGroupBytes >= 0))
  refuse(
    '--gib (a comma-separated list), --side, --shard-mib and --concurrency: expected positive numbers',
    USAGE,
  );
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** The endpoint, in its own thread: reads each body to the end, keeps nothing, answers with one prediction. */
const SERVER = `
const { createServer } = require('node:http');
const { parentPort } = require('node:worker_threads');
const answer = JSON.stringify({ predictions: [{ label: '0', score: 1 }] });
let requests = 0, bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
    res.end(answer);
  });
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', () => parentPort.postMessage({ requests, bytes }));
`;

const SERVICE = {
  endpoint: '/generate',
  interface: {
    inputPipeline: [{ kind: 'TransformJSON', configuration: { image: '$.image' } }],
    outputPipeline: [
      { kind: 'ExplodeCollections', configuration: { collections: ['predictions'] } },
      {
        kind: 'TransformJSON',
        configuration: { label: '$.predictions.label', score: '$.predictions.score' },
      },
    ],
  },
};

interface Written {
  rows: number;
  bytes: number;
  largest: number;
  shards: number;
}

/** Shards of noise PNGs (with the columns image-folders writes) until the dataset holds `bytes`. */
async function writeDataset(store: FilesystemObjectStore, dir: string, id: string, bytes: number) {
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  const artifacts: { kind: string; path: string; rows: number; size: number; digest: { md5: string } }[] = [];
  const out: Written = { rows: 0, bytes: 0, largest: 0, shards: 0 };
  try {
    while (out.bytes < bytes) {
      await db.run(`CREATE OR REPLACE TABLE shard (_index_ BIGINT, image BLOB, width INTEGER, height INTEGER,
        format VARCHAR, label VARCHAR, path VARCHAR)`);
      const appender = await db.createAppender('shard');
      let inShard = 0;
      let rows = 0;
      while (inShard < shardBytes) {
        const png = noisePng(side);
        const label = String(out.rows % 10);
        appender.appendBigInt(BigInt(out.rows));
        appender.appendBlob(png);
        appender.appendInteger(side);
        appender.appendInteger(side);
        appender.appendVarchar('png');
        appender.appendVarchar(label);
        appender.appendVarchar(`${label}/${out.rows}.png`);
        appender.endRow();
        inShard += png.length;
        rows++;
        out.rows++;
      }
      appender.closeSync();
      const file = join(dir, `shard-${id}.parquet`);
      // Row groups as the ingest writes them (rows of the shard's average size per group of rowGroupBytes).
      const groupRows = rowGroupBytes > 0 ? rowGroupRows(inShard, rows, rowGroupBytes) : rows;
      await db.run(rowGroupsCopySql('shard', out.rows - rows, rows, groupRows, file));
      const path = `data/part-${String(out.shards).padStart(5, '0')}.parquet`;
      const info = await store.put('datasets', `${id}/${path}`, createReadStream(file));
      await rm(file);
      artifacts.push({ kind: 'parquet', path, rows, size: info.size, digest: { md5: info.md5 } });
      out.bytes += info.size;
      out.largest = Math.max(out.largest, info.size);
      out.shards++;
    }
  } finally {
    db.closeSync();
    instance.closeSync();
  }
  await store.put('datasets', `${id}/manifest.json`, JSON.stringify({ rowCount: out.rows, artifacts }));
  return out;
}

/** The client in a child process; its peak RSS (the kernel's high-water mark) and the RSS it sampled each second. */
async function runClient(ctx: { dir: string; store: FilesystemObjectStore; base: string }, dataset: string) {
  const evaluation = `${dataset.slice(0, 24)}eeeeeeee`;
  const args = {
    storeRoot: join(ctx.dir, 'store'),
    dataHome: join(ctx.dir, `home-${dataset}`),
    evaluation,
    spec: { dataset, inferenceService: dataset, replications: 1, workersPerReplica: concurrency },
    service: SERVICE,
    endpoint: ctx.base,
  };
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', resolve(import.meta.dirname, 'images/client.ts'), JSON.stringify(args)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const samples: number[] = [];
  let maxRssKib = NaN;
  let code = NaN;
  const tail: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const sample = /^rss_mib=(\d+)$/.exec(line);
    const end = /^maxrss_kib=(\d+) code=(\d+)$/.exec(line);
    if (sample) samples.push(Number(sample[1]));
    else if (end) [maxRssKib, code] = [Number(end[1]), Number(end[2])];
    else tail.push(line);
  });
  await once(child, 'close');
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`the evaluate step failed (exit ${code}): ${tail.join(' | ')}`);
  const parts = (await ctx.store.list('outputs', `${evaluation}/data/`)).map((o) =>
    quotedString(ctx.store.localPath('outputs', o.key)),
  );
  return { peakMib: maxRssKib / 1024, samples, seconds, outputs: await countParquetRows(parts) };
}

const dir = await mkdtemp(join(tmpdir(), 'dyff-bench-images-'));
const worker = new Worker(SERVER, { eval: true });
try {
  const [{ port }] = (await once(worker, 'message')) as [{ port: number }];
  const base = `http://127.0.0.1:${port}`;
  const store = new FilesystemObjectStore({ root: join(dir, 'store') });
  const png = noisePng(side).length;
  console.log(
    `writing datasets: ${side}×${side} noise PNGs of ${(png / 1024).toFixed(0)} KiB, shards of ${values['shard-mib']} MiB`,
  );
  const results = [];
  for (const [i, bytes] of sizes.entries()) {
    const id = `${String(i + 1).padStart(8, '0')}${'0'.repeat(24)}`;
    const written = await writeDataset(store, dir, id, bytes);
    const r = await runClient({ dir, store, base }, id);
    if (r.outputs !== written.rows)
      throw new Error(`${mib(bytes)} MiB: ${r.outputs} outputs, expected ${written.rows}`);
    console.log(
      `${mib(written.bytes)} MiB (${written.rows} images, ${written.shards} shards, largest ${mib(written.largest)} MiB): sent in ${r.seconds.toFixed(1)} s (${mib(written.bytes / r.seconds)} MiB/s), peak RSS ${r.peakMib.toFixed(0)} MiB; RSS each second: ${r.samples.join(' ')}`,
    );
    results.push({ ...r, written });
    // The next dataset's shards go into the same store; this one's are no longer needed.
    await rm(join(dir, 'store', 'datasets', id), { recursive: true, force: true });
  }
  worker.postMessage('count');
  const [served] = (await once(worker, 'message')) as [{ requests: number; bytes: number }];
  const smallest = results[0]!;
  const largest = results.at(-1)!;
  const pairs = results.map(
    (r) => `peak_rss_mib_${Math.round(r.written.bytes / 2 ** 20)}=${r.peakMib.toFixed(0)}`,
  );
  console.log(
    `dataset_mib=${results.map((r) => mib(r.written.bytes)).join(',')} ${pairs.join(' ')} peak_ratio=${(largest.peakMib / smallest.peakMib).toFixed(2)} size_ratio=${(largest.written.bytes / smallest.written.bytes).toFixed(1)} image_kib=${(png / 1024).toFixed(0)} shard_mib=${values['shard-mib']} row_group_mib=${values['row-group-mib']} concurrency=${concurrency} seconds=${results.map((r) => r.seconds.toFixed(1)).join(',')} requests=${served.requests} request_body_mib=${mib(served.bytes)}`,
  );
} finally {
  await worker.terminate();
  await rm(dir, { recursive: true, force: true });
}
