/**
 * bench:dev-server — the same skeleton pipeline (bench/skeleton: 5 child workflows of no-op activities, shaped like
 * a pipeline run) one at a time on two Temporal dev servers side by side in one invocation: one with the server's
 * own dynamic config, one with the project's latency settings (src/dev/latency.ts), which every dev server the
 * project starts uses. Prints the median and p95 per run and per stage, and the ratio.
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startDevServer } from '../src/dev/dev-server.js';
import { LATENCY_DYNAMIC_CONFIG } from '../src/dev/latency.js';
import { installRuntime } from '../src/worker.js';
import { PIPELINE_SHAPE, SKELETON_WORKFLOWS } from './skeleton/shape.js';
import { benchArgs, stopOnInterrupt } from './cli.js';

benchArgs(
  `npm run bench:dev-server

The skeleton pipeline (5 child workflows of no-op activities) one at a time on two Temporal dev servers side by
side: the server's own dynamic config against the project's latency settings. Prints the median and p95 per run
and per stage, and the ratio; the last line holds them as key=value.

Environment:
  BENCH_RUNS=N   runs on each server (default 30)`,
  {},
);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const WARMUP = 3;
const STAGES = PIPELINE_SHAPE.length;

installRuntime('ERROR');

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;

async function measure(name: string, dynamicConfig: Readonly<Record<string, number | boolean>>) {
  const server = await startDevServer({ port: 0, dynamicConfig });
  const stopServer = stopOnInterrupt(() => server.stop());
  const taskQueue = `skeleton-${name}`;
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: SKELETON_WORKFLOWS,
    activities: { noop: async () => {} },
  });
  const client = new Client({ connection: server.env.connection });
  const latencies: number[] = [];
  try {
    await worker.runUntil(async () => {
      for (let i = 0; i < WARMUP + RUNS; i++) {
        const t0 = performance.now();
        await client.workflow.execute('skeletonPipeline', {
          taskQueue,
          workflowId: `skeleton-${name}-${i}`,
          args: [PIPELINE_SHAPE],
        });
        if (i >= WARMUP) latencies.push(performance.now() - t0);
      }
    });
  } finally {
    await connection.close();
    await stopServer();
  }
  const p50 = quantile(latencies, 0.5);
  const p95 = quantile(latencies, 0.95);
  console.log(
    `${name.padEnd(9)} run p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms; per stage p50 ${(p50 / STAGES).toFixed(0)} ms`,
  );
  return { p50, p95 };
}

console.log(
  `skeleton: child workflows of [${PIPELINE_SHAPE.join(', ')}] no-op activities, ${RUNS} runs one at a time`,
);
const defaults = await measure('defaults', {});
const latency = await measure('latency', LATENCY_DYNAMIC_CONFIG);
console.log(
  `defaults_p50_ms=${defaults.p50.toFixed(0)} latency_p50_ms=${latency.p50.toFixed(0)} ` +
    `speedup=${(defaults.p50 / latency.p50).toFixed(2)} ` +
    `latency_stage_p50_ms=${(latency.p50 / STAGES).toFixed(1)}`,
);
