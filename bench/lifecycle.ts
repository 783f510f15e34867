/**
 * bench:lifecycle — pipelines through a real Temporal dev server, in one invocation:
 *   1. orchestration only: a JobRunner that completes each job at once (what Temporal + this project cost);
 *   2. the local process runner on tiny data (the real cost, dominated by process start).
 * Beside 1, a skeleton of the same shape with nothing of ours in it (bench/skeleton): Temporal's floor on this
 * machine. Prints what one pipeline costs the server (counted from its histories), pipelines/s, orchestration
 * overhead per stage, and worker memory per in-flight pipeline, each beside the skeleton's. `-- --help` lists the
 * phases and flags.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities/index.js';
import { createAdapters } from '../src/adapters/index.js';
import { SqliteEntityStore } from '../src/adapters/entity-store/sqlite.js';
import { freePort } from '../src/adapters/process-group.js';
import { FilesystemObjectStore } from '../src/adapters/object-store/filesystem.js';
import { loadConfig } from '../src/config.js';
import { startDevServer } from '../src/dev/dev-server.js';
import { newId } from '../src/domain/ids.js';
import { quotaWorkflowId } from '../src/workflows/quota-messages.js';
import { installRuntime } from '../src/worker.js';
import { bundleWorkflows } from '../src/workflow-bundle.js';
import { RecordingSessions } from '../test/support/recording-sessions.js';
import { ScriptedJobRunner } from '../test/support/scripted-runner.js';
import { stepEffects } from '../test/support/step-effects.js';
import { countRun, formatCounts } from './lifecycle-counts.js';
import { FIRST_TASK, medianTimeline, runTimeline, timelineLines } from './lifecycle-timeline.js';
import { mergedProfile, profileLines, profileOf, sampleServer, serverPid } from './server-profile.js';
import type { HeldMemory } from './lifecycle-runs.js';
import {
  benchFlags,
  executePipeline,
  heldMemory,
  median,
  runMany,
  scriptedPipelineSpec,
  slope,
} from './lifecycle-runs.js';
import { stopOnInterrupt } from './cli.js';
import { SKELETON_WORKFLOWS } from './skeleton/shape.js';

const flags = benchFlags(process.argv.slice(2));
const { phases } = flags;
const STAGES = 5; // dataset, model, inference service, evaluation, report
const out: string[] = []; // the last line's key=value pairs
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

installRuntime((process.env.BENCH_LOG_LEVEL as 'WARN' | undefined) ?? 'ERROR');
// Its metrics port names it: the throughput phase reads the server's CPU time and metrics (server-profile.ts).
const metricsPort = await freePort();
const server = await startDevServer({ port: 0, metricsPort });
const stopServer = stopOnInterrupt(() => server.stop());
const serverProcess = serverPid(metricsPort);
// The server is a child process: stop it however the run ends, or it outlives the benchmark.
const home = await mkdtemp(join(tmpdir(), 'dyff-bench-'));
try {
  const bundle = await bundleWorkflows({
    trace() {},
    debug() {},
    info() {},
    warn() {},
    log() {},
    error: console.error,
  });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const limits = {
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
    // To see what the workflow cache holds: runs beyond it are evicted and replayed on their next task.
    ...(process.env.BENCH_MAX_CACHED ? { maxCachedWorkflows: Number(process.env.BENCH_MAX_CACHED) } : {}),
    // Workflows in this thread, not the SDK's worker thread: the main-thread heap figure then holds their state.
    ...(process.env.BENCH_WORKFLOWS_IN_MAIN_THREAD ? { debugMode: true } : {}),
  };

  // Ours, orchestration only. While `holding`, evaluate jobs run until released (the memory phase).
  const objects = new FilesystemObjectStore({ root: join(home, 'objects') });
  const entities = new SqliteEntityStore({ path: join(home, 'entities.sqlite') });
  let holding = false;
  const instant = new ScriptedJobRunner((stage) =>
    holding && stage === 'evaluate'
      ? { outcome: 'hang' }
      : { outcome: 'succeed', effect: stepEffects(objects) },
  );
  const spec = scriptedPipelineSpec({ concurrencyQuota: 1_000_000 });
  const tq = `bench-orch-${newId().slice(0, 6)}`;
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: tq,
    workflowBundle: { code: bundle.code },
    activities: createActivities({
      entityStore: entities,
      objectStore: objects,
      jobRunner: instant,
      sessionRunner: new RecordingSessions(),
    }),
    ...limits,
  });
  const ours = (account = 'bench') => executePipeline(client, tq, spec, account);

  // The skeleton: the same shape, the same worker limits, nothing of ours.
  const skeletonQueue = `bench-skeleton-${newId().slice(0, 6)}`;
  let skeletonHold: Promise<void> | undefined;
  let skeletonHeld = 0;
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
    ...limits,
  });
  let skeletons = 0;
  const skeleton = async () => {
    const workflowId = `${skeletonQueue}-${skeletons++}`;
    await client.workflow.execute('skeletonPipeline', {
      workflowId,
      taskQueue: skeletonQueue,
      args: [flags.shape],
    });
    return workflowId;
  };

  await worker.runUntil(async () => {
    await skeletonWorker.runUntil(async () => {
      await runMany(10, 10, () => ours().then(() => undefined)); // warm up
      await runMany(10, 10, () => skeleton().then(() => undefined));

      if (phases.has('counts')) {
        // A fresh account, so that its quota semaphore's work is this pipeline's alone.
        const account = `bench-count-${newId().slice(0, 6)}`;
        const id = await ours(account);
        const c = await countRun(client, id, [quotaWorkflowId(account, tq)]);
        const s = await countRun(client, await skeleton());
        console.log(`per pipeline, ours:     ${formatCounts('', c)}`);
        console.log(`per pipeline, skeleton: ${formatCounts('', s)} (shape ${flags.shape.join(',')})`);
        out.push(formatCounts('ours_', c), formatCounts('skeleton_', s));
      }

      if (phases.has('serial')) {
        // Ours and the skeleton alternate, run by run, each pair in either order by turns: the machine's drift and
        // the server's growing store fall on both alike, and each pair's difference is measured minutes apart at most.
        const ids = { ours: [] as string[], skeleton: [] as string[] };
        const times = { ours: [] as number[], skeleton: [] as number[] };
        const timed = async (side: 'ours' | 'skeleton') => {
          const t = performance.now();
          ids[side].push(await (side === 'ours' ? ours() : skeleton()));
          times[side].push((performance.now() - t) / STAGES);
        };
        for (let i = 0; i < flags.serial; i++) {
          for (const side of i % 2 ? (['skeleton', 'ours'] as const) : (['ours', 'skeleton'] as const))
            await timed(side);
        }
        const [o, s] = [median(times.ours), median(times.skeleton)];
        const above = median(times.ours.map((t, i) => t - times.skeleton[i]!));
        console.log(
          `one at a time, ${flags.serial} pairs alternated: ours ${f1(o)} ms per stage, the skeleton's ${f1(s)} ms ` +
            `(medians); ours above the skeleton's by ${f1(above)} ms per stage (median of the pairs' differences)`,
        );
        // Where those runs' time went, from their histories (lifecycle-timeline.ts): medians per category.
        const timelines = async (list: string[]) =>
          medianTimeline(await Promise.all(list.map((id) => runTimeline(client, id))));
        const [ourTimes, skeletonTimes] = [await timelines(ids.ours), await timelines(ids.skeleton)];
        console.log('where one run at a time spends its time, from the histories (median per category):');
        for (const line of timelineLines(ourTimes, skeletonTimes, STAGES)) console.log(line);
        const first = (t: typeof ourTimes) => f1(t.each.get(FIRST_TASK) ?? NaN);
        out.push(
          `ms_per_stage=${f1(o)} skeleton_ms_per_stage=${f1(s)} ms_per_stage_above_skeleton=${f1(above)} ` +
            `first_task_ms=${first(ourTimes)} skeleton_first_task_ms=${first(skeletonTimes)}`,
        );
      }

      if (phases.has('throughput')) {
        const { pipelines: n, concurrency: c } = flags;
        // Peak RSS while ours run (garbage included), as the figure was first taken: the largest rise above the RSS
        // at the start of either half, so that what the skeleton's batch left in between is not counted as ours.
        let base = 0;
        let rise = 0;
        let sampling = false;
        const startSampling = () => {
          global.gc?.();
          base = process.memoryUsage().rss;
          sampling = true;
        };
        const sampler = setInterval(() => {
          if (sampling) rise = Math.max(rise, process.memoryUsage().rss - base);
        }, 50);
        startSampling();
        // The server's CPU time and metrics, and this process's CPU time (workers and client), around each batch.
        const cpu = () => {
          const u = process.cpuUsage();
          return (u.user + u.system) / 1000;
        };
        // The server's store grows with every run, and a later batch runs on a larger one: ours run in two halves,
        // before and after the skeleton, so that both sides see the same store size on average.
        const first = Math.ceil(n / 2);
        const [s0, c0] = [await sampleServer(metricsPort, serverProcess), cpu()];
        const t1 = (await runMany(first, c, () => ours().then(() => undefined))).seconds;
        const [s1, c1] = [await sampleServer(metricsPort, serverProcess), cpu()];
        sampling = false;
        const s = n / (await runMany(n, c, () => skeleton().then(() => undefined))).seconds;
        const [s2, c2] = [await sampleServer(metricsPort, serverProcess), cpu()];
        startSampling();
        const t2 = (await runMany(n - first, c, () => ours().then(() => undefined))).seconds;
        const [s3, c3] = [await sampleServer(metricsPort, serverProcess), cpu()];
        clearInterval(sampler);
        const o = n / (t1 + t2);
        const peakPerRun = rise / 2 ** 20 / c;
        console.log(
          `throughput (${n} pipelines, ${c} in flight): ours ${f1(o)} pipelines/s, the skeleton's ${f1(s)} (ours ${f2(o / s)} ×); ` +
            `worker peak RSS +${f2(peakPerRun)} MiB per run in flight`,
        );
        const po = mergedProfile(profileOf(s0, s1, first), profileOf(s2, s3, n - first));
        const ps = profileOf(s1, s2, n);
        const [wo, ws] = [(c1 - c0 + (c3 - c2)) / n, (c2 - c1) / n];
        for (const line of profileLines(po, ps)) console.log(line);
        console.log(`worker and client CPU per pipeline: ours ${f1(wo)} ms, the skeleton's ${f1(ws)} ms`);
        out.push(
          `pipelines_per_s=${f1(o)} skeleton_pipelines_per_s=${f1(s)} ratio_to_skeleton=${f2(o / s)} mib_per_inflight=${f2(peakPerRun)}`,
          `server_cpu_ms_per_pipeline=${f1(po.cpuMs)} skeleton_server_cpu_ms_per_pipeline=${f1(ps.cpuMs)}`,
          `worker_cpu_ms_per_pipeline=${f1(wo)} skeleton_worker_cpu_ms_per_pipeline=${f1(ws)}`,
        );
      }

      if (phases.has('memory')) {
        const mine: HeldMemory[] = [];
        const theirs: HeldMemory[] = [];
        const running = () =>
          instant.started.filter((j) => j.stage === 'evaluate' && instant.isRunning(j.name)).length;
        for (const n of flags.held) {
          holding = true;
          mine.push(
            await heldMemory(n, ours, running, () => {
              holding = false;
              for (const j of instant.started) if (instant.isRunning(j.name)) instant.finish(j.name);
            }),
          );
          let release = () => {};
          skeletonHold = new Promise<void>((r) => (release = r));
          skeletonHeld = 0;
          theirs.push(
            await heldMemory(
              n,
              skeleton,
              () => skeletonHeld,
              () => {
                skeletonHold = undefined;
                release();
              },
            ),
          );
        }
        for (const [i, m] of mine.entries())
          console.log(
            `memory held (${m.held} runs blocked at their evaluation stage, settled): ours ${f2(m.rssPerRun)} MiB RSS per run ` +
              `(main-thread heap ${f2(m.heapPerRun)}, external ${f2(m.externalPerRun)}, the rest workflow thread and core), ` +
              `the skeleton's ${f2(theirs[i]!.rssPerRun)} MiB (heap ${f2(theirs[i]!.heapPerRun)})`,
          );
        const [so, ss] = [slope(mine), slope(theirs)];
        if (so !== undefined && ss !== undefined) {
          console.log(
            `memory slope from ${flags.held[0]} to ${flags.held.at(-1)} held: ours ${f2(so)} MiB per run, the skeleton's ${f2(ss)}`,
          );
          out.push(`held_mib_slope=${f2(so)} skeleton_held_mib_slope=${f2(ss)}`);
        }
        const last = mine.at(-1)!;
        out.push(
          `held_mib_per_inflight=${f2(last.rssPerRun)} skeleton_held_mib_per_inflight=${f2(theirs.at(-1)!.rssPerRun)} held_n=${last.held} ` +
            `held_heap_mib_per_inflight=${f2(last.heapPerRun)} skeleton_held_heap_mib_per_inflight=${f2(theirs.at(-1)!.heapPerRun)}`,
        );
      }
    });
  });

  if (phases.has('real')) out.push(await realPhase());
  await entities.close();
  await nativeConnection.close();
  await connection.close();
  console.log(out.join(' '));

  /** The local process runner and real steps on a tiny CSV: datasets only (inference is bench:inference's). */
  async function realPhase(): Promise<string> {
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
    const realWorker = await Worker.create({
      connection: nativeConnection,
      taskQueue: config.temporal.taskQueue,
      workflowBundle: { code: bundle.code },
      activities: createActivities(adapters),
    });
    try {
      const { seconds } = await realWorker.runUntil(() =>
        runMany(flags!.real, 1, async () => {
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
        }),
      );
      const perJob = seconds / flags!.real / 2;
      console.log(
        `real (local processes): ${flags!.real} datasets (fetch + ingest jobs) in ${f1(seconds)} s = ~${f2(perJob)} s per job (process start + DuckDB)`,
      );
      return `real_datasets_per_s=${f2(flags!.real / seconds)} real_s_per_job=${f2(perJob)}`;
    } finally {
      await adapters.close();
    }
  }
} finally {
  await stopServer();
  await rm(home, { recursive: true, force: true });
}
