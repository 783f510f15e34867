/**
 * Evaluation-client benchmark: the evaluate step end to end (dataset Parquet → one POST per row → outputs
 * checkpointed in Parquet) against an independent load generator hitting the same endpoint, in the same run.
 * The endpoint (a worker thread on 127.0.0.1) answers each request after a fixed latency, like a model would.
 * The load generator is wrk when on PATH, else autocannon when installed, else a bare node:http loop; it is
 * swept over concurrencies and its best is kept; the client then runs at that concurrency. The last line is
 * key=value pairs.
 *
 *   npx tsx bench/inference.ts [--rows 20000] [--concurrency 64,128,256,512] [--latency-ms 20] [--seconds 3]
 */
import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { FilesystemObjectStore } from '../src/adapters/object-store/filesystem.js';
import { loadConfig } from '../src/config.js';
import { runStepProgram } from '../src/steps/run.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    'latency-ms': { type: 'string', default: '20' },
    /** Seconds per load-generator concurrency level. */
    seconds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64,128,256,512' },
  },
});
const rows = Number(values.rows);
const latencyMs = Number(values['latency-ms']);
const seconds = Number(values.seconds);
const levels = values.concurrency.split(',').map(Number);
const BODY = JSON.stringify({
  text: 'Dear friend, claim your free prize now: reply with your bank details. '.repeat(3),
});

/** The endpoint, in its own thread so that it does not share an event loop with either client. */
const SERVER = `
const { createServer } = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const answer = JSON.stringify({ predictions: [{ label: 'spam', score: 0.97 }, { label: 'ham', score: 0.03 }] });
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
    res.end(answer);
  }, workerData.latencyMs));
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
`;

async function startEndpoint(): Promise<{ url: string; worker: Worker }> {
  const worker = new Worker(SERVER, { eval: true, workerData: { latencyMs } });
  const [port] = (await once(worker, 'message')) as [number];
  return { url: `http://127.0.0.1:${port}/generate`, worker };
}

interface LoadResult {
  tool: string;
  concurrency: number;
  requestsPerSecond: number;
}

async function loadgen(url: string, concurrency: number, dir: string): Promise<LoadResult> {
  if (await onPath('wrk')) {
    const script = join(dir, 'post.lua');
    await writeFile(
      script,
      `wrk.method = "POST"\nwrk.body = ${JSON.stringify(BODY)}\nwrk.headers["Content-Type"] = "application/json"\n`,
    );
    const { stdout } = await promisify(execFile)('wrk', [
      '-t1',
      `-c${concurrency}`,
      `-d${seconds}s`,
      '-s',
      script,
      url,
    ]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
    return { tool: 'wrk', concurrency, requestsPerSecond: rps };
  }
  const autocannon = await import('autocannon' as string).catch(() => undefined);
  if (autocannon) {
    const run = (autocannon as { default: (o: unknown) => Promise<{ requests: { average: number } }> })
      .default;
    const result = await run({
      url,
      method: 'POST',
      body: BODY,
      connections: concurrency,
      duration: seconds,
      headers: { 'content-type': 'application/json' },
    });
    return { tool: 'autocannon', concurrency, requestsPerSecond: result.requests.average };
  }
  return { tool: 'node-http', concurrency, requestsPerSecond: await nodeHttpLoad(url, concurrency) };
}

/** The fallback load generator: `concurrency` keep-alive loops of POSTs for `seconds`. */
async function nodeHttpLoad(url: string, concurrency: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const post = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) },
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(BODY);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await post();
        done++;
      }
    }),
  );
  agent.destroy();
  return done / seconds;
}

const onPath = (program: string) =>
  promisify(execFile)('sh', ['-c', `command -v ${program}`]).then(
    () => true,
    () => false,
  );

/** A dataset as ingest leaves it, `rows` rows of `text`. */
async function putDataset(store: FilesystemObjectStore, dir: string, id: string): Promise<void> {
  const parquet = join(dir, 'dataset.parquet');
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  await db.run(`COPY (SELECT i::BIGINT AS _index_, 'message ' || i || ' ' || repeat('lorem ipsum ', 15) AS text
    FROM range(${rows}) t(i)) TO ${quotedString(parquet)} (FORMAT parquet)`);
  db.closeSync();
  instance.closeSync();
  const info = await store.put('datasets', `${id}/data/part-00000.parquet`, await readFile(parquet));
  const artifacts = [
    { kind: 'parquet', path: 'data/part-00000.parquet', rows, size: info.size, digest: { md5: info.md5 } },
  ];
  await store.put('datasets', `${id}/manifest.json`, JSON.stringify({ rowCount: rows, artifacts }));
}

/** The evaluate step in this process, timed from start to its last checkpoint; outputs counted from Parquet. */
async function runClient(store: FilesystemObjectStore, dir: string, url: string, concurrency: number) {
  const config = loadConfig({ dataHome: join(dir, 'home') }, { DYFF_CONFIG: join(dir, 'none.yaml') });
  const dataset = '0123456789abcdef0123456789abcdef';
  const evaluation = 'fedcba9876543210fedcba9876543210';
  await putDataset(store, dir, dataset);
  const spec = { dataset, inferenceService: dataset, replications: 1, workersPerReplica: concurrency };
  const service = {
    endpoint: url,
    interface: {
      inputPipeline: [{ kind: 'TransformJSON', configuration: { text: '$.text' } }],
      outputPipeline: [
        { kind: 'ExplodeCollections', configuration: { collections: ['predictions'] } },
        {
          kind: 'TransformJSON',
          configuration: { label: '$.predictions.label', score: '$.predictions.score' },
        },
      ],
    },
  };
  let last = '';
  const started = performance.now();
  const code = await runStepProgram(
    'evaluate',
    ['--id', evaluation, '--spec', JSON.stringify(spec), '--service', JSON.stringify(service)],
    { objectStore: store, config, write: (line) => void (line.startsWith('::progress::') && (last = line)) },
  );
  const elapsed = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`evaluate exited with ${code}`);
  const parts = (await store.list('outputs', `${evaluation}/data/`)).map((o) =>
    quotedString(store.localPath('outputs', o.key)),
  );
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  const written = Number(
    (await db.runAndReadAll(`SELECT count(*) FROM read_parquet([${parts.join(', ')}])`)).getRowsJS()[0]![0],
  );
  db.closeSync();
  instance.closeSync();
  return { written, elapsed, itemsPerSecond: written / elapsed, lastProgress: last };
}

const dir = await mkdtemp(join(tmpdir(), 'dyff-bench-inference-'));
const { url, worker } = await startEndpoint();
try {
  console.log(
    `endpoint ${url}, ${latencyMs} ms per request; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}`,
  );
  const sweep: LoadResult[] = [];
  for (const c of levels) {
    const r = await loadgen(url, c, dir);
    sweep.push(r);
    console.log(`loadgen ${r.tool} concurrency ${c}: ${r.requestsPerSecond.toFixed(0)} req/s`);
  }
  const best = sweep.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
  const store = new FilesystemObjectStore({ root: join(dir, 'store') });
  const client = await runClient(store, dir, url, best.concurrency);
  console.log(
    `client concurrency ${best.concurrency}: ${client.written} outputs in ${client.elapsed.toFixed(2)} s = ${client.itemsPerSecond.toFixed(0)} items/s (${client.lastProgress})`,
  );
  const ratio = client.itemsPerSecond / best.requestsPerSecond;
  console.log(
    `client_items_per_s=${client.itemsPerSecond.toFixed(0)} loadgen_req_per_s=${best.requestsPerSecond.toFixed(0)} loadgen=${best.tool} concurrency=${best.concurrency} latency_ms=${latencyMs} rows=${rows} ratio=${ratio.toFixed(2)}`,
  );
} finally {
  await worker.terminate();
  await rm(dir, { recursive: true, force: true });
}
