/**
 * bench:lifecycle — pipelines through a real Temporal dev server, twice in one invocation:
 *   1. orchestration only: a JobRunner that completes each job at once (what Temporal + this project cost);
 *   2. the local process runner on tiny data (the real cost, dominated by process start).
 * Beside 1, a skeleton of the same shape with nothing of ours in it (bench/skeleton): Temporal's floor on this
 * machine. Prints pipelines/s, orchestration overhead per stage, and worker memory per in-flight pipeline, each
 * beside the skeleton's.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { specHash } from '../src/activities/lookups.js';
import { createActivities } from '../src/activities/index.js';
import { createAdapters } from '../src/adapters/index.js';
import { SqliteEntityStore } from '../src/adapters/entity-store/sqlite.js';
import { FilesystemObjectStore } from '../src/adapters/object-store/filesystem.js';
import { loadConfig } from '../src/config.js';
import { startDevServer } from '../src/dev/dev-server.js';
import { newId } from '../src/domain/ids.js';
import type { PipelineInput, PipelineSpec } from '../src/domain/pipeline.js';
import { PipelineSpec as PipelineSpecSchema } from '../src/domain/pipeline.js';
import { installRuntime, WORKFLOWS_PATH } from '../src/worker.js';
import { RecordingSessions } from '../test/support/recording-sessions.js';
import { ScriptedJobRunner } from '../test/support/scripted-runner.js';
import { stepEffects } from '../test/support/step-effects.js';
import { PIPELINE_SHAPE, SKELETON_WORKFLOWS } from './skeleton/shape.js';

const ORCHESTRATION_PIPELINES = Number(process.env.BENCH_PIPELINES ?? 1000);
const REAL_PIPELINES = Number(process.env.BENCH_REAL_PIPELINES ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const STAGES = 5; // dataset, model, inference service, evaluation, report
const MiB = 1024 * 1024;

installRuntime('ERROR');
const server = await startDevServer({ port: 0 });
// The server is a child process: stop it however the run ends, or it outlives the benchmark.
const home = await mkdtemp(join(tmpdir(), 'dyff-bench-'));
try {
  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, log() {}, error: console.error },
  });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });

  function pipelineInput(spec: PipelineSpec, force: boolean): PipelineInput {
    return {
      id: newId(),
      account: 'bench',
      spec,
      hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) },
      force,
    };
  }

  async function runPipelines(
    taskQueue: string,
    n: number,
    concurrency: number,
    spec: PipelineSpec,
    force: boolean,
  ) {
    const latencies: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, n) }, async () => {
        while (next < n) {
          next++;
          const start = performance.now();
          const input = pipelineInput(spec, force);
          const view = await client.workflow.execute('pipelineWorkflow', {
            workflowId: `pipeline-${input.id}`,
            taskQueue,
            args: [input],
          });
          if ((view as { status: string }).status !== 'Complete')
            throw new Error(`pipeline ${input.id} ended ${JSON.stringify(view)}`);
          latencies.push(performance.now() - start);
        }
      }),
    );
    return { seconds: (performance.now() - t0) / 1000, latencies };
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

  /** RSS after a full collection of this thread's heap and a moment for the others to settle. */
  async function settledRss(): Promise<number> {
    await new Promise((r) => setTimeout(r, 2000));
    global.gc?.();
    return process.memoryUsage().rss;
  }

  /**
   * What `CONCURRENCY` runs held in flight cost, retained (not the garbage a busy run leaves behind): the settled
   * RSS with every run blocked at its evaluation stage, minus the settled RSS before they started, per run.
   */
  async function heldMiB(start: () => Promise<unknown>, held: () => number, release: () => void) {
    const before = await settledRss();
    const runs = Array.from({ length: CONCURRENCY }, start);
    while (held() < CONCURRENCY) await new Promise((r) => setTimeout(r, 100));
    const during = await settledRss();
    release();
    await Promise.all(runs);
    return (during - before) / MiB / CONCURRENCY;
  }

  // 1. Orchestration only.
  const objects = new FilesystemObjectStore({ root: join(home, 'objects') });
  const entities = new SqliteEntityStore({ path: join(home, 'entities.sqlite') });
  // While `holding`, evaluate jobs run until released: the memory phase holds every pipeline in flight there.
  let holding = false;
  const instant = new ScriptedJobRunner((stage) =>
    holding && stage === 'evaluate'
      ? { outcome: 'hang' }
      : { outcome: 'succeed', effect: stepEffects(objects) },
  );
  const fakeSpec = PipelineSpecSchema.parse({
    dataset: { source: { kind: 'url', url: 'https://example.invalid/d.csv' } },
    model: { source: { kind: 'urls', urls: ['https://example.invalid/m.json'] } },
    service: { runner: { kind: 'http', endpoint: 'https://example.invalid' } },
    report: { rubric: 'classification.accuracy' },
    concurrencyQuota: 1_000_000,
  });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const tq1 = `bench-orch-${newId().slice(0, 6)}`;
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: tq1,
    workflowBundle: { code: bundle.code },
    activities: createActivities({
      entityStore: entities,
      objectStore: objects,
      jobRunner: instant,
      sessionRunner: new RecordingSessions(),
    }),
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
  });
  const running = worker.run();
  await runPipelines(tq1, 10, 10, fakeSpec, true); // warm up
  const serial = await runPipelines(tq1, 20, 1, fakeSpec, true);
  const perStageMs = median(serial.latencies) / STAGES;
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const orch = await runPipelines(tq1, ORCHESTRATION_PIPELINES, CONCURRENCY, fakeSpec, true);
  clearInterval(sampler);
  holding = true;
  const heldEvaluations = () =>
    instant.started.filter((j) => j.stage === 'evaluate' && instant.isRunning(j.name)).length;
  const oursHeldMiB = await heldMiB(
    () => runPipelines(tq1, 1, 1, fakeSpec, true),
    heldEvaluations,
    () => {
      holding = false;
      for (const j of instant.started) if (instant.isRunning(j.name)) instant.finish(j.name);
    },
  );
  worker.shutdown();
  await running;
  const orchRate = ORCHESTRATION_PIPELINES / orch.seconds;
  const perInflightMiB = (peakRss - rssBefore) / MiB / CONCURRENCY;
  console.log(
    `orchestration: ${ORCHESTRATION_PIPELINES} pipelines in ${orch.seconds.toFixed(1)} s = ${orchRate.toFixed(1)} pipelines/s at concurrency ${CONCURRENCY}; ` +
      `one at a time: median ${median(serial.latencies).toFixed(0)} ms per pipeline = ${perStageMs.toFixed(1)} ms per stage; ` +
      `worker RSS +${((peakRss - rssBefore) / MiB).toFixed(0)} MiB at ${CONCURRENCY} in flight`,
  );

  // 1b. The skeleton: the same shape, the same concurrency, the same worker limits, nothing of ours.
  const skeletonQueue = `bench-skeleton-${newId().slice(0, 6)}`;
  const skeletonWorker = await Worker.create({
    connection: nativeConnection,
    taskQueue: skeletonQueue,
    workflowsPath: SKELETON_WORKFLOWS,
    activities: {
      // While holding, the evaluation stage's first activity blocks until released, as ours do in the memory phase.
      noop: async () => {
        if (!skeletonHold || !Context.current().info.workflowExecution?.workflowId.endsWith('-3')) return;
        skeletonHeld++;
        await skeletonHold;
      },
    },
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
  });
  let skeletonHold: Promise<void> | undefined;
  let skeletonHeld = 0;
  const skeletonRunning = skeletonWorker.run();
  let skeletonsStarted = 0;
  async function runSkeletons(n: number, concurrency: number) {
    const latencies: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, n) }, async () => {
        while (next < n) {
          next++;
          const i = skeletonsStarted++;
          const start = performance.now();
          await client.workflow.execute('skeletonPipeline', {
            workflowId: `${skeletonQueue}-${i}`,
            taskQueue: skeletonQueue,
            args: [PIPELINE_SHAPE],
          });
          latencies.push(performance.now() - start);
        }
      }),
    );
    return { seconds: (performance.now() - t0) / 1000, latencies };
  }
  await runSkeletons(10, 10);
  const skeletonSerial = await runSkeletons(20, 1);
  const skeletonPerStageMs = median(skeletonSerial.latencies) / STAGES;
  const skeletonRun = await runSkeletons(ORCHESTRATION_PIPELINES, CONCURRENCY);
  let releaseSkeletons = () => {};
  skeletonHold = new Promise<void>((r) => (releaseSkeletons = r));
  const skeletonHeldMiB = await heldMiB(
    () => runSkeletons(1, 1),
    () => skeletonHeld,
    () => {
      skeletonHold = undefined;
      releaseSkeletons();
    },
  );
  skeletonWorker.shutdown();
  await skeletonRunning;
  const skeletonRate = ORCHESTRATION_PIPELINES / skeletonRun.seconds;
  console.log(
    `skeleton: ${skeletonRate.toFixed(1)} pipelines/s at concurrency ${CONCURRENCY} (ours ${(orchRate / skeletonRate).toFixed(2)} × that); ` +
      `one at a time ${skeletonPerStageMs.toFixed(1)} ms per stage (ours ${(perStageMs - skeletonPerStageMs).toFixed(1)} ms above)`,
  );
  console.log(
    `memory held: ${CONCURRENCY} runs in flight (each blocked at its evaluation stage, settled RSS): ours ${oursHeldMiB.toFixed(2)} MiB per run, the skeleton's ${skeletonHeldMiB.toFixed(2)} MiB`,
  );

  // 2. The real cost: the local process runner and real steps on a tiny CSV (the model fetch is a local file).
  const config = loadConfig(
    {
      dataHome: join(home, 'real'),
      temporal: { address: server.address, taskQueue: `bench-real-${newId().slice(0, 6)}` },
      // The tiny CSV lives in the benchmark's own directory: a local source must be under a declared root.
      sources: { localRoots: [home] },
    },
    { PATH: process.env.PATH ?? '' },
  );
  const adapters = await createAdapters(config);
  await writeFile(join(home, 'tiny.csv'), 'text,label\nhello,a\nworld,b\n');
  await writeFile(join(home, 'model.json'), '{}');
  const realWorker = await Worker.create({
    connection: nativeConnection,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: { code: bundle.code },
    activities: createActivities(adapters),
  });
  const realRunning = realWorker.run();
  let realLine = 'real: skipped';
  let realRate = 0;
  let realStepSeconds = 0;
  try {
    // Only the dataset and model stages: the serving and evaluation steps are measured by bench:inference.
    const t0 = performance.now();
    for (let i = 0; i < REAL_PIPELINES; i++) {
      const id = newId();
      await client.workflow.execute('datasetWorkflow', {
        workflowId: `dataset-${id}`,
        taskQueue: config.temporal.taskQueue,
        args: [
          {
            id,
            account: 'bench',
            spec: { source: { kind: 'local', path: join(home, 'tiny.csv') }, ingest: { format: 'csv' } },
          },
        ],
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    realRate = REAL_PIPELINES / seconds;
    realStepSeconds = seconds / REAL_PIPELINES / 2;
    realLine = `real (local processes): ${REAL_PIPELINES} datasets (fetch + ingest jobs) in ${seconds.toFixed(1)} s = ${(seconds / REAL_PIPELINES).toFixed(2)} s per dataset, ~${realStepSeconds.toFixed(2)} s per job (process start + tsx + DuckDB)`;
  } finally {
    realWorker.shutdown();
    await realRunning;
    await adapters.close();
  }
  console.log(realLine);

  await entities.close();
  await nativeConnection.close();
  await connection.close();
  console.log(
    `pipelines_per_s=${orchRate.toFixed(1)} skeleton_pipelines_per_s=${skeletonRate.toFixed(1)} ratio_to_skeleton=${(orchRate / skeletonRate).toFixed(2)} ` +
      `ms_per_stage=${perStageMs.toFixed(1)} ms_per_stage_above_skeleton=${(perStageMs - skeletonPerStageMs).toFixed(1)} mib_per_inflight=${perInflightMiB.toFixed(2)} held_mib_per_inflight=${oursHeldMiB.toFixed(2)} skeleton_held_mib_per_inflight=${skeletonHeldMiB.toFixed(2)} real_datasets_per_s=${realRate.toFixed(2)} real_s_per_job=${realStepSeconds.toFixed(2)}`,
  );
} finally {
  await server.stop();
  await rm(home, { recursive: true, force: true });
}
