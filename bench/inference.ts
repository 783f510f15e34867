/**
 * Evaluation-client benchmark: the evaluate step end to end (dataset Parquet → one POST per row → outputs
 * checkpointed in Parquet) against an independent load generator (autocannon, a devDependency) hitting the same
 * endpoint. At every concurrency level of the sweep both send the same number of requests, one after the other,
 * and the ratio client items/s ÷ generator requests/s is printed. The client is the step as its own process,
 * started the way the local runner of a worker running from dist/ starts it (`bin/dyff-step.cjs`, with the
 * environment `stepEnvironment` gives it), a fresh one at each level, timed from spawn to exit; the ratio of its
 * sending alone (from its own log line: without its start and its last part) is printed beside it, and so is its
 * ratio to autocannon run as its own process through its command line, timed the same way.
 * The endpoint (a worker thread of this process, on 127.0.0.1) answers each request after a fixed latency, like a
 * model would. The last line is key=value pairs.
 *
 * With `--repeat N` each level runs N times, the three runs of each time side by side, and the last line holds each
 * ratio's median over the N (with its range beside it); the machine's noise moves one run by ±10–20 %.
 *
 *   npm run bench:inference -- [--requests 100000] [--concurrency 64,128,256,512] [--latency-ms 20] [--repeat 1]
 */
import { quotedString } from '@duckdb/node-api';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { FilesystemObjectStore } from '../src/adapters/object-store/filesystem.js';
import { loadConfig } from '../src/config.js';
import { countParquetRows, putDataset } from './inference/dataset.js';
import { autocannonProcess, BODY, loadAutocannon } from './inference/loadgen.js';
import { threadCpu, threadCpuDelta, threadIds } from './inference/threads.js';
import { measured, NODE_FLAGS_HELP, REPO, stepArgs, stepEnv } from './step-process.js';
import { benchArgs, refuse } from './cli.js';

const USAGE = `npm run bench:inference -- [--requests 100000] [--concurrency 64,128,256,512] [--latency-ms 20] [--repeat 1]

The evaluate step (dataset Parquet -> one POST per row -> outputs in Parquet) as its own process against
autocannon, an independent load generator, on the same loopback endpoint, at each concurrency level. The last
line holds every ratio as key=value. The goal: the client's items/s >= 0.95 x autocannon's requests/s at every
level.

  --requests N        requests per run, the same for both (default 100000)
  --concurrency LIST  the levels of the sweep (default 64,128,256,512)
  --latency-ms N      the endpoint's fixed answer latency (default 20)
  --repeat N          runs of each level; the last line holds each ratio's median (default 1)
  --client-only       run only the client

${NODE_FLAGS_HELP}`;
const values = benchArgs(USAGE, {
  requests: { type: 'string', default: '100000' },
  'latency-ms': { type: 'string', default: '20' },
  concurrency: { type: 'string', default: '64,128,256,512' },
  repeat: { type: 'string', default: '1' },
  'client-only': { type: 'boolean', default: false },
});
const requests = Number(values.requests);
const latencyMs = Number(values['latency-ms']);
const levels = values.concurrency.split(',').map(Number);
const repeat = Number(values.repeat);
if (!(requests > 0) || levels.some((c) => !(c > 0)) || !Number.isInteger(repeat) || repeat < 1)
  refuse('--requests, --concurrency (a comma-separated list) and --repeat: expected positive numbers', USAGE);

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

/** The endpoint's thread ids, told apart from the rest in the CPU-by-thread figures. */
const labels = new Map<string, string>();

async function startEndpoint(): Promise<{ base: string; worker: Worker }> {
  const before = threadIds();
  const worker = new Worker(SERVER, { eval: true, workerData: { latencyMs } });
  const [port] = (await once(worker, 'message')) as [number];
  for (const tid of threadIds()) if (!before.has(tid)) labels.set(tid, 'endpoint');
  return { base: `http://127.0.0.1:${port}`, worker };
}

const SERVICE = {
  // A path on the session, as build-service describes a platform-run model: the client reaches it by --endpoint.
  endpoint: '/generate',
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

/** The evaluate step as its own process, timed from spawn to exit; outputs counted from Parquet. */
async function runClient(
  ctx: { store: FilesystemObjectStore; dir: string; base: string },
  concurrency: number,
  runIndex: number,
) {
  const config = loadConfig(
    { dataHome: join(ctx.dir, 'home'), limits: { maxConcurrentRequests: Math.max(...levels) } },
    { DYFF_CONFIG: join(ctx.dir, 'none.yaml') },
  );
  // One evaluation per run: its outputs are written create-only.
  const evaluation = `${concurrency.toString(16).padStart(6, '0')}${runIndex.toString(16).padStart(2, '0')}${'fedcba98'.repeat(3)}`;
  const spec = {
    dataset: DATASET,
    inferenceService: DATASET,
    replications: 1,
    workersPerReplica: concurrency,
  };
  const lines: string[] = [];
  const args = ['--id', evaluation, '--spec', JSON.stringify(spec), '--service', JSON.stringify(SERVICE)];
  const run = await measured(
    stepArgs('evaluate', [...args, '--endpoint', ctx.base]),
    stepEnv('evaluate', config),
    join(ctx.dir, `usage-${concurrency}-${runIndex}.json`),
    (line) => void lines.push(line),
  );
  const parts = (await ctx.store.list('outputs', `${evaluation}/data/`)).map((o) =>
    quotedString(ctx.store.localPath('outputs', o.key)),
  );
  const written = await countParquetRows(parts);
  if (written !== requests) throw new Error(`the client wrote ${written} outputs, expected ${requests}`);
  // The adaptive limit the client ran at (it halves on signs of overload, such as rising latency).
  const limits = lines.flatMap((l) => /concurrency (\d+)/.exec(l)?.[1] ?? []).map(Number);
  const limit = { min: Math.min(...limits), last: limits.at(-1) ?? concurrency };
  // "sent N items in S s": the sending alone, from its first request to its last answer.
  const sending = Number(/sent \d+ items in ([\d.]+) s/.exec(lines.join('\n'))?.[1]);
  return {
    written,
    elapsed: run.seconds,
    itemsPerSecond: written / run.seconds,
    sendingPerSecond: written / sending,
    cpuPerRequest: Math.round((run.cpuSeconds * 1e6) / requests),
    mainCpuPerRequest: Math.round((run.mainCpuSeconds * 1e6) / requests),
    maxRssMiB: run.maxRssMiB,
    limit,
  };
}

const DATASET = '0123456789abcdef0123456789abcdef';
/** CPU of this process (all threads: endpoint included, the same for both) per request since `since`. */
const cpuPerRequest = (since: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(since);
  return Math.round((user + system) / requests);
};
const load = () => loadavg()[0]!.toFixed(1);
/** The middle value of `values`, the mean of the two middle ones for an even count. */
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
// The step runs from the build, as a worker running from dist/ starts it: build it first where it is stale.
execFileSync(process.execPath, [join(REPO, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });
const autocannon = await loadAutocannon();
const dir = await mkdtemp(join(tmpdir(), 'dyff-bench-inference-'));
const { base, worker } = await startEndpoint();
try {
  console.log(
    `endpoint ${base}${SERVICE.endpoint}, ${latencyMs} ms per request; ${requests} requests per run; ${cpus().length} cores, load ${load()}`,
  );
  // The store the step's configuration names (dataHome/objects), as the local runner's steps use it.
  const store = new FilesystemObjectStore({ root: join(dir, 'home', 'objects') });
  await putDataset(store, dir, DATASET, requests);
  /** Each ratio's value per run, by its key in the last line. */
  const figures = new Map<string, number[]>();
  const note = (key: string, value: number) => {
    const runs = figures.get(key);
    if (runs) runs.push(value);
    else figures.set(key, [value]);
  };
  for (let run = 0; run < repeat; run++) {
    for (const c of levels) {
      const cpu = process.cpuUsage();
      let threads = threadCpu(labels);
      const gen = values['client-only']
        ? { requestsPerSecond: NaN, errors: 0 }
        : await autocannon(`${base}${SERVICE.endpoint}`, c, requests);
      const genCpu = cpuPerRequest(cpu);
      const genThreads = threadCpuDelta(threads, threadCpu(labels));
      threads = threadCpu(labels);
      const client = await runClient({ store, dir, base }, c, run);
      const endpointThreads = threadCpuDelta(threads, threadCpu(labels));
      const genProcess = values['client-only']
        ? undefined
        : await autocannonProcess(
            `${base}${SERVICE.endpoint}`,
            c,
            requests,
            join(dir, `usage-autocannon-${c}-${run}.json`),
          );
      const ratio = client.itemsPerSecond / gen.requestsPerSecond;
      const sendingRatio = client.sendingPerSecond / gen.requestsPerSecond;
      const processRatio = client.itemsPerSecond / (genProcess?.requestsPerSecond ?? NaN);
      note(`ratio_c${c}`, ratio);
      note(`sending_ratio_c${c}`, sendingRatio);
      note(`process_ratio_c${c}`, processRatio);
      console.log(
        `${repeat > 1 ? `run ${run + 1}/${repeat}, ` : ''}concurrency ${c}: autocannon ${gen.requestsPerSecond.toFixed(0)} req/s (${gen.errors} errors, ${genCpu} µs CPU/req with the endpoint), client ${client.itemsPerSecond.toFixed(0)} items/s (${client.elapsed.toFixed(1)} s spawn to exit, ${client.cpuPerRequest} µs CPU/req in its process, ${client.mainCpuPerRequest} on its main thread, peak RSS ${client.maxRssMiB.toFixed(0)} MiB, limit min ${client.limit.min} last ${client.limit.last}) → ratio ${ratio.toFixed(2)}; sending alone ${client.sendingPerSecond.toFixed(0)} items/s → ${sendingRatio.toFixed(2)}; load ${load()}`,
      );
      if (genProcess) {
        console.log(
          `  autocannon as its own process: ${genProcess.requestsPerSecond.toFixed(0)} req/s (${genProcess.seconds.toFixed(1)} s spawn to exit, ${genProcess.errors} errors, ${genProcess.cpuPerRequest} µs CPU/req in its process, ${genProcess.mainCpuPerRequest} on its main thread, peak RSS ${genProcess.maxRssMiB.toFixed(0)} MiB) → client process ÷ autocannon process ${processRatio.toFixed(2)}`,
        );
      }
      console.log(
        `  CPU ms by thread: autocannon run ${genThreads}; client run, this process ${endpointThreads}`,
      );
    }
  }
  // Each ratio's median over the runs, and with more than one run its range (`…_range=lo-hi`).
  const pairs = (prefix: string) =>
    [...figures]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, runs]) => {
        const range =
          repeat > 1 ? ` ${key}_range=${Math.min(...runs).toFixed(2)}-${Math.max(...runs).toFixed(2)}` : '';
        return `${key}=${median(runs).toFixed(2)}${range}`;
      });
  const min = Math.min(...levels.map((c) => median(figures.get(`ratio_c${c}`)!)));
  console.log(
    `loadgen=autocannon requests=${requests} repeat=${repeat} latency_ms=${latencyMs} body_bytes=${Buffer.byteLength(BODY)} ${pairs('ratio_').join(' ')} min_ratio=${min.toFixed(2)} ${pairs('sending_ratio_').join(' ')} ${pairs('process_ratio_').join(' ')} load=${load()}`,
  );
} finally {
  await worker.terminate();
  await rm(dir, { recursive: true, force: true });
}
