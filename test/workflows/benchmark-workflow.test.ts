import { describe, expect, it } from 'vitest';
import { specHash } from '../../src/activities/lookups.js';
import { createActivities } from '../../src/activities/index.js';
import type { BenchmarkInput, BenchmarkReportDocument, BenchmarkView } from '../../src/domain/benchmark.js';
import { BenchmarkSpec } from '../../src/domain/benchmark.js';
import { newId } from '../../src/domain/ids.js';
import { DyffStatus } from '../../src/domain/search-attributes.js';
import type { JobSpec } from '../../src/ports/job-runner.js';
import { benchmarkQuery } from '../../src/workflows/definitions.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { RecordingSessions } from '../support/recording-sessions.js';
import type { Behaviour } from '../support/scripted-runner.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { stepEffects } from '../support/step-effects.js';
import { startWorkerWithActivities } from '../support/temporal.js';
import { until } from '../support/worker-process.js';

const env = useOrchestrationEnv();

const spec = BenchmarkSpec.parse({
  dataset: {
    source: { kind: 'url', url: 'https://example.invalid/digits.zip' },
    ingest: { format: 'image-folders' },
  },
  model: { source: { kind: 'urls', urls: ['https://example.invalid/mlp.json'] } },
  service: { runner: { kind: 'http', endpoint: 'https://example.invalid' } },
  evaluation: { split: 'test' },
  report: { rubric: 'classification.accuracy' },
  corruptions: [
    { name: 'brightness', severities: [3, 1] },
    { name: 'gaussian_noise', severities: [1, 3] },
  ],
  parallelism: 5,
});

function input(overrides: Partial<BenchmarkInput> = {}): BenchmarkInput {
  return {
    id: newId(),
    account: `bench-${newId().slice(0, 8)}`,
    name: 'digits-robustness',
    spec,
    hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) },
    ...overrides,
  };
}

/** The corruption and severity a job's entity is about: through its evaluation and dataset, as the store has them. */
async function cellOf(job: JobSpec): Promise<string> {
  let entity = await env.entities.get(job.entityId);
  if (entity?.kind === 'Report')
    entity = await env.entities.get((entity.spec as { evaluation: string }).evaluation);
  if (entity?.kind === 'Evaluation')
    entity = await env.entities.get((entity.spec as { dataset: string }).dataset);
  const source = (entity?.spec as { source?: { corruption?: { name: string; severity: number } } })?.source;
  return source?.corruption ? `${source.corruption.name}/${source.corruption.severity}` : 'clean/0';
}

/** Accuracy the scripted report step writes: 0.95 clean, 0.1 less per severity step, noise falling faster. */
const ACCURACY: Record<string, number> = {
  'clean/0': 0.95,
  'brightness/1': 0.9,
  'brightness/3': 0.7,
  'gaussian_noise/1': 0.8,
  'gaussian_noise/3': 0.4,
};

async function withWorker(
  pick: (job: JobSpec, cell: string) => Behaviour | undefined,
  body: (runner: ScriptedJobRunner, sessions: RecordingSessions) => Promise<void>,
) {
  const cells = new Map<string, string>();
  const effect = stepEffects(env.objects, {
    reportMetrics: (job) => ({ accuracy: ACCURACY[cells.get(job.entityId)!]! }),
  });
  let current: JobSpec | undefined;
  const runner = new (class extends ScriptedJobRunner {
    override async start(job: JobSpec) {
      cells.set(job.entityId, await cellOf(job));
      current = job;
      return super.start(job);
    }
  })(() => pick(current!, cells.get(current!.entityId)!) ?? { outcome: 'succeed', effect });
  const sessions = new RecordingSessions();
  const activities = createActivities({
    entityStore: env.entities,
    objectStore: env.objects,
    jobRunner: runner,
    sessionRunner: sessions,
  });
  const worker = await startWorkerWithActivities(env.config, activities);
  try {
    await body(runner, sessions);
  } finally {
    await worker.stop();
  }
}

function start(i: BenchmarkInput) {
  return env.client.workflow.start('benchmarkWorkflow', {
    workflowId: `benchmark-${i.id}`,
    taskQueue: env.config.temporal.taskQueue,
    args: [i],
  });
}

/** The message the run failed with (the client's error wraps it as its cause). */
async function failureOf(handle: { result(): Promise<unknown> }): Promise<string> {
  const err = (await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  )) as { cause?: { message?: string } } | undefined;
  return err?.cause?.message ?? 'the run did not fail';
}

const readDoc = async (id: string) =>
  JSON.parse(
    (await env.objects.getBuffer('reports', `${id}/benchmark.json`)).toString(),
  ) as BenchmarkReportDocument;

describe('benchmarkWorkflow', () => {
  it('evaluates one model through one service on the clean dataset and each corruption × severity, each cell its own entities, then writes the report across corruptions', async () => {
    await withWorker(
      () => undefined,
      async (runner, sessions) => {
        const i = input();
        const view = (await (await start(i)).result()) as BenchmarkView;
        expect(view.status).toBe('Complete');
        expect(view.cells.map((c) => [`${c.corruption}/${c.severity}`, c.status, c.value])).toEqual([
          ['clean/0', 'Done', 0.95],
          ['brightness/1', 'Done', 0.9],
          ['brightness/3', 'Done', 0.7],
          ['gaussian_noise/1', 'Done', 0.8],
          ['gaussian_noise/3', 'Done', 0.4],
        ]);
        const stages = runner.started.map((j) => j.stage);
        // One model and one service for all; the clean dataset fetched and ingested once, each corruption ingested.
        expect(stages.filter((s) => s === 'build')).toHaveLength(1);
        expect(runner.started.filter((j) => j.args[0] === 'fetch-model')).toHaveLength(1);
        expect(runner.started.filter((j) => j.args[0] === 'fetch-data')).toHaveLength(1);
        expect(stages.filter((s) => s === 'ingest')).toHaveLength(5);
        expect(stages.filter((s) => s === 'evaluate')).toHaveLength(5);
        expect(stages.filter((s) => s === 'report')).toHaveLength(5);
        expect([...new Set(sessions.stopped)].sort()).toEqual([...sessions.started].sort());

        const clean = view.cells[0]!;
        for (const cell of view.cells) {
          const [dataset, evaluation, report] = await Promise.all(
            [cell.datasetId, cell.evaluationId, cell.reportId].map((id) => env.entities.get(id!)),
          );
          expect(evaluation).toMatchObject({
            status: 'Complete',
            spec: { dataset: cell.datasetId, inferenceService: view.inferenceServiceId, split: 'test' },
          });
          expect(report).toMatchObject({ status: 'Complete', spec: { evaluation: cell.evaluationId } });
          if (cell.severity === 0) continue;
          expect(dataset).toMatchObject({
            status: 'Ready',
            spec: {
              source: {
                kind: 'dataset',
                dataset: clean.datasetId,
                corruption: { name: cell.corruption, severity: cell.severity },
              },
            },
          });
        }
        expect(view.report).toEqual({
          page: `reports/${i.id}/index.html`,
          document: `reports/${i.id}/benchmark.json`,
        });
        const doc = await readDoc(i.id);
        expect(doc).toMatchObject({
          benchmarkId: i.id,
          metric: 'accuracy',
          split: 'test',
          modelId: view.modelId,
        });
        expect(doc.cells).toEqual(view.cells);
        const page = (await env.objects.getBuffer('reports', `${i.id}/index.html`)).toString();
        for (const cell of view.cells) expect(page).toContain(`href="../${cell.reportId}/index.html"`);
        const handle = env.client.workflow.getHandle(`benchmark-${i.id}`);
        expect((await handle.describe()).typedSearchAttributes.get(DyffStatus)).toBe('Complete');

        // A second run reuses the Ready clean dataset and model.
        runner.started.length = 0;
        const again = (await (await start({ ...i, id: newId() })).result()) as BenchmarkView;
        expect(again.cells[0]!.datasetId).toBe(clean.datasetId);
        expect(again.modelId).toBe(view.modelId);
        expect(
          runner.started.filter((j) => j.args[0] === 'fetch-data' || j.args[0] === 'fetch-model'),
        ).toEqual([]);
      },
    );
  });

  it("one cell's failed evaluation is reported with its reason; the other cells complete and the page shows them", async () => {
    await withWorker(
      (job, cell) =>
        job.stage === 'evaluate' && cell === 'gaussian_noise/3'
          ? { outcome: 'fail', exitCode: 2, logTail: ['error: the service answered 400 to every request'] }
          : undefined,
      async () => {
        const i = input({
          spec: { ...spec, corruptions: [{ name: 'gaussian_noise', severities: [1, 3] }] },
        });
        const handle = await start(i);
        expect(await failureOf(handle)).toMatch(/1 of 3 evaluations failed \(gaussian_noise 3: evaluation: /);
        const view = await handle.query(benchmarkQuery);
        expect(view.status).toBe('Failed');
        const failed = view.cells.find((c) => c.corruption === 'gaussian_noise' && c.severity === 3)!;
        expect(failed).toMatchObject({
          status: 'Failed',
          message: expect.stringMatching(/^evaluation: evaluate failed.*400 to every request/s),
        });
        expect(failed.reportId).toBeUndefined();
        expect(await env.entities.get(failed.evaluationId!)).toMatchObject({ status: 'Failed' });
        expect(view.cells.filter((c) => c.status === 'Done')).toHaveLength(2);
        const doc = await readDoc(i.id);
        expect(doc.cells.find((c) => c.evaluationId === failed.evaluationId)?.status).toBe('Failed');
        const page = (await env.objects.getBuffer('reports', `${i.id}/index.html`)).toString();
        expect(page).toContain('>failed</span>');
        expect((await handle.describe()).typedSearchAttributes.get(DyffStatus)).toBe('Failed');
      },
    );
  });

  it('a failed shared stage (the service build) fails the run at once and skips every cell', async () => {
    await withWorker(
      (job) =>
        job.stage === 'build'
          ? { outcome: 'fail', exitCode: 2, logTail: ['error: no such runner'] }
          : undefined,
      async (runner) => {
        const handle = await start(input());
        expect(await failureOf(handle)).toMatch(/a shared stage failed: build failed.*no such runner/s);
        const view = await handle.query(benchmarkQuery);
        expect(view.status).toBe('Failed');
        expect(new Set(view.cells.map((c) => c.status))).toEqual(new Set(['Skipped']));
        expect(runner.started.some((j) => j.stage === 'evaluate')).toBe(false);
      },
    );
  });

  it('cancel while cells run cancels their children, stops every session, and writes no page', async () => {
    await withWorker(
      (job) => (job.stage === 'evaluate' ? { outcome: 'hang' } : undefined),
      async (runner, sessions) => {
        const i = input({ spec: { ...spec, parallelism: 2 } });
        const handle = await start(i);
        await until(
          'two evaluate jobs (the parallelism) to run',
          async () => runner.started.filter((j) => j.stage === 'evaluate').length === 2,
        );
        await handle.cancel();
        await expect(handle.result()).rejects.toThrow();
        const view = await handle.query(benchmarkQuery);
        expect(view.status).toBe('Terminated');
        expect(new Set(view.cells.map((c) => c.status))).toEqual(new Set(['Terminated']));
        const running = view.cells.filter((c) => c.evaluationId);
        expect(running).toHaveLength(2);
        for (const c of running)
          expect(await env.entities.get(c.evaluationId!)).toMatchObject({ status: 'Terminated' });
        expect(runner.cancelled.filter((n) => n.startsWith('evaluate-'))).toHaveLength(2);
        await until(
          'every session stopped',
          async () => sessions.started.length === 2 && [...new Set(sessions.stopped)].length === 2,
        );
        expect(await env.objects.stat('reports', `${i.id}/index.html`)).toBeUndefined();
      },
    );
  });
});
