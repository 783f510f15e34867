/**
 * The pieces bench:lifecycle is made of: its flags, starting runs at a given concurrency, and the memory that
 * runs held in flight cost a worker.
 */
import type { Client } from '@temporalio/client';
import { specHash } from '../src/activities/lookups.js';
import { newId } from '../src/domain/ids.js';
import type { PipelineInput } from '../src/domain/pipeline.js';
import { PipelineSpec } from '../src/domain/pipeline.js';
import { runStartMetadata } from '../src/domain/run-metadata.js';
import { benchArgs, refuse } from './cli.js';
import { PIPELINE_SHAPE } from './skeleton/shape.js';

const PHASES = ['counts', 'serial', 'throughput', 'memory', 'real'] as const;
export type Phase = (typeof PHASES)[number];

const HELP = `npm run bench:lifecycle -- [flags]

Pipelines through a real Temporal dev server with a runner that completes each job at once (what orchestration
costs), beside a skeleton of the same shape with nothing of ours in it (Temporal's floor on this machine), then a
few datasets through the local process runner (the real cost). The last line holds every figure as key=value.

  --phases LIST       which of ${PHASES.join(',')} to run (default: all)
                        counts      history events, workflow tasks, activity tasks, markers, timers, upserts
                                    and signals per pipeline, ours beside the skeleton's (load-independent)
                        serial      --serial pairs one at a time, ours and the skeleton's alternated: ms per
                                    stage, the pairs' median difference, and where the time goes, read from
                                    the runs' histories
                        throughput  --pipelines at --concurrency: pipelines/s and the ratio to the skeleton
                                    (ours in two halves, before and after the skeleton's batch)
                        memory      settled worker RSS with N runs held at their evaluation stage, per run,
                                    for each N in --held; with two or more N, the slope between them too
                        real        --real datasets (fetch + ingest) through the local process runner
  --pipelines N       pipelines in the throughput phase (default 1000; env BENCH_PIPELINES)
  --concurrency N     pipelines in flight in the throughput phase (default 100; env BENCH_CONCURRENCY)
  --serial N          pairs (ours, the skeleton's) one at a time in the serial phase (default 20)
  --held LIST         runs held in flight in the memory phase (default: --concurrency), e.g. 20,40
  --real N            datasets in the real phase (default 3; env BENCH_REAL_PIPELINES)
  --shape LIST        the skeleton's activities per stage (default ${PIPELINE_SHAPE.join(',')}: ours)
  --help              this text

Environment, to see where a worker's memory goes:
  BENCH_WORKFLOWS_IN_MAIN_THREAD=1  run workflows in the main thread (the SDK's debug mode), so that the memory
                                    phase's heap figure holds their state: steadier than RSS on a busy machine
  BENCH_MAX_CACHED=N                the worker's workflow cache size
  BENCH_LOG_LEVEL=WARN              the SDK's log level (default ERROR): WARN shows workflow tasks that took
                                    longer than 5 s (TMPRL1104)

The goals: >= 10 pipelines/s and >= 0.8 x the skeleton at 1,000 pipelines, 100 in flight; <= 10 ms per stage above
the skeleton one at a time; <= 1 MiB worker memory per in-flight pipeline. On an idle machine:
  npm run bench:lifecycle
`;

export interface BenchFlags {
  phases: Set<Phase>;
  pipelines: number;
  concurrency: number;
  serial: number;
  held: number[];
  real: number;
  shape: number[];
}

const count = (name: string, s: string): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) refuse(`--${name} ${s}: expected a whole number`, HELP);
  return n;
};
const list = (name: string, s: string): number[] => s.split(',').map((x) => count(name, x.trim()));

/** The flags (`--help` prints the usage and exits; a flag it does not accept exits with the usage). */
export function benchFlags(argv: string[]): BenchFlags {
  const values = benchArgs(
    HELP,
    {
      phases: { type: 'string' },
      pipelines: { type: 'string' },
      concurrency: { type: 'string' },
      serial: { type: 'string' },
      held: { type: 'string' },
      real: { type: 'string' },
      shape: { type: 'string' },
    },
    argv,
  );
  const phases = (values.phases ?? PHASES.join(',')).split(',').map((p) => p.trim());
  for (const p of phases)
    if (!(PHASES as readonly string[]).includes(p))
      refuse(`--phases: ${p} is not one of ${PHASES.join(', ')}`, HELP);
  const concurrency = count('concurrency', values.concurrency ?? process.env.BENCH_CONCURRENCY ?? '100');
  return {
    phases: new Set(phases as Phase[]),
    pipelines: count('pipelines', values.pipelines ?? process.env.BENCH_PIPELINES ?? '1000'),
    concurrency,
    serial: count('serial', values.serial ?? '20'),
    held: list('held', values.held ?? String(concurrency)),
    real: count('real', values.real ?? process.env.BENCH_REAL_PIPELINES ?? '3'),
    shape: values.shape ? list('shape', values.shape) : PIPELINE_SHAPE,
  };
}

/**
 * `n` runs, `concurrency` at a time, each started by `start(i)` and awaited; the wall time and each run's latency.
 */
export async function runMany(
  n: number,
  concurrency: number,
  start: (i: number) => Promise<void>,
): Promise<{ seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await start(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, latencies };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** A pipeline for a scripted job runner: its sources and endpoint are never reached. */
export function scriptedPipelineSpec(
  extra: { concurrencyQuota?: number; audits?: { procedure: { kind: 'local'; path: string } }[] } = {},
): PipelineSpec {
  return PipelineSpec.parse({
    dataset: { source: { kind: 'url', url: 'https://example.invalid/d.csv' } },
    model: { source: { kind: 'urls', urls: ['https://example.invalid/m.json'] } },
    service: { runner: { kind: 'http', endpoint: 'https://example.invalid' } },
    report: { rubric: 'classification.accuracy' },
    ...extra,
  });
}

/** A pipeline started the way `dyffctl`'s client starts one: with its search attributes, summary and details. */
export async function executePipeline(
  client: Client,
  taskQueue: string,
  spec: PipelineSpec,
  account: string,
): Promise<string> {
  const input: PipelineInput = {
    id: newId(),
    account,
    spec,
    hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) },
    force: true,
  };
  const run = { ...input, kind: 'Pipeline' as const };
  const workflowId = `pipeline-${input.id}`;
  const view = await client.workflow.execute('pipelineWorkflow', {
    workflowId,
    taskQueue,
    args: [input],
    ...runStartMetadata(run),
  });
  if ((view as { status: string }).status !== 'Complete')
    throw new Error(`pipeline ${input.id} ended ${JSON.stringify(view)}`);
  return workflowId;
}

const MiB = 1024 * 1024;

/** This process's memory after a full collection of this thread's heap and a moment for the others to settle. */
async function settled() {
  await new Promise((r) => setTimeout(r, 2000));
  global.gc?.();
  return process.memoryUsage();
}

export interface HeldMemory {
  held: number;
  /** Settled RSS with `held` runs in flight minus before, per run (MiB). */
  rssPerRun: number;
  /** Of that, the main thread's JS heap, and memory outside it (buffers): the rest is the workflow thread and the SDK's core. */
  heapPerRun: number;
  externalPerRun: number;
}

/**
 * What `n` runs held in flight cost, retained (not the garbage a busy run leaves behind): the settled memory with
 * every run blocked at its evaluation stage, minus the settled memory before they started, per run.
 */
export async function heldMemory(
  n: number,
  start: () => Promise<unknown>,
  held: () => number,
  release: () => void,
): Promise<HeldMemory> {
  const before = await settled();
  const runs = Array.from({ length: n }, start);
  while (held() < n) await new Promise((r) => setTimeout(r, 100));
  const during = await settled();
  release();
  await Promise.all(runs);
  const per = (k: 'rss' | 'heapUsed' | 'external') => (during[k] - before[k]) / MiB / n;
  return { held: n, rssPerRun: per('rss'), heapPerRun: per('heapUsed'), externalPerRun: per('external') };
}

/** MiB per run between the smallest and the largest number held: the fixed costs cancel. */
export function slope(ms: HeldMemory[]): number | undefined {
  if (ms.length < 2) return undefined;
  const [a, b] = [ms[0]!, ms.at(-1)!];
  return (b.rssPerRun * b.held - a.rssPerRun * a.held) / (b.held - a.held);
}
