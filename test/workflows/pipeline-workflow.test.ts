import { describe, expect, it } from 'vitest';
import { specHash } from '../../src/activities/lookups.js';
import { createActivities } from '../../src/activities/index.js';
import { DyffStatus } from '../../src/domain/search-attributes.js';
import { newId } from '../../src/domain/ids.js';
import type { PipelineInput, PipelineSpec } from '../../src/domain/pipeline.js';
import { PipelineSpec as PipelineSpecSchema } from '../../src/domain/pipeline.js';
import type { PipelineView } from '../../src/workflows/index.js';
import type { Behaviour } from '../support/scripted-runner.js';
import { readyDependencies } from '../support/ready-dependencies.js';
import { RecordingSessions } from '../support/recording-sessions.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { stepEffects } from '../support/step-effects.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { until } from '../support/worker-process.js';
import { startWorkerWithActivities } from '../support/temporal.js';

const env = useOrchestrationEnv();

const spec: PipelineSpec = PipelineSpecSchema.parse({
  dataset: { source: { kind: 'url', url: 'https://example.invalid/d.csv' }, ingest: { format: 'csv' } },
  model: { source: { kind: 'urls', urls: ['https://example.invalid/m.json'] } },
  service: { runner: { kind: 'http', endpoint: 'https://example.invalid' } },
  report: { rubric: 'classification.accuracy' },
});

function input(overrides: Partial<PipelineInput> = {}, s: PipelineSpec = spec): PipelineInput {
  return {
    id: newId(),
    account: `acct-${newId().slice(0, 8)}`,
    spec: s,
    hashes: { dataset: specHash(s.dataset), model: specHash(s.model) },
    ...overrides,
  };
}

async function withWorker(
  script: (stage: string, attempt: number) => Behaviour,
  body: (runner: ScriptedJobRunner, sessions: RecordingSessions) => Promise<void>,
) {
  const runner = new ScriptedJobRunner(script);
  const sessions = new RecordingSessions();
  const worker = await startWorkerWithActivities(
    env.config,
    createActivities({
      entityStore: env.entities,
      objectStore: env.objects,
      jobRunner: runner,
      sessionRunner: sessions,
    }),
  );
  try {
    await body(runner, sessions);
  } finally {
    await worker.stop();
  }
}

const succeed = (_stage: string): Behaviour => ({ outcome: 'succeed', effect: stepEffects(env.objects) });

function run(i: PipelineInput) {
  return env.client.workflow.start('pipelineWorkflow', {
    workflowId: `pipeline-${i.id}`,
    taskQueue: env.config.temporal.taskQueue,
    args: [i],
  });
}

describe('pipelineWorkflow', () => {
  it('runs every stage in dependency order, stops the session, and reuses a Ready Dataset and Model the second time', async () => {
    await withWorker(succeed, async (runner, sessions) => {
      const first = input();
      const view = (await (await run(first)).result()) as PipelineView;
      expect(view.status).toBe('Complete');
      expect(runner.started.map((j) => j.stage).sort()).toEqual([
        'build',
        'evaluate',
        'fetch',
        'fetch',
        'ingest',
        'report',
        'verify',
      ]);
      expect([...new Set(sessions.stopped)].sort()).toEqual([...sessions.started].sort());
      const report = await env.entities.get(view.stages.report.id!);
      expect(report).toMatchObject({ status: 'Complete', details: { metrics: { accuracy: 0.9 } } });

      runner.started.length = 0;
      const second = (await (await run({ ...first, id: newId() })).result()) as PipelineView;
      expect(second.stages.dataset).toEqual({ id: view.stages.dataset.id, status: 'Reused' });
      expect(second.stages.model).toEqual({ id: view.stages.model.id, status: 'Reused' });
      expect(runner.started.map((j) => j.stage).sort()).toEqual(['build', 'evaluate', 'report', 'verify']);

      runner.started.length = 0;
      const forced = (await (await run({ ...first, id: newId(), force: true })).result()) as PipelineView;
      expect(forced.stages.dataset.status).toBe('Done');
      expect(forced.stages.dataset.id).not.toBe(view.stages.dataset.id);
      expect(runner.started.filter((j) => j.stage === 'ingest')).toHaveLength(1);
    });
  });

  it('a failed stage gives every later stage FailedDependency', async () => {
    await withWorker(
      (stage) =>
        stage === 'build'
          ? { outcome: 'fail', exitCode: 2, logTail: ['error: no such runner'] }
          : succeed(stage),
      async () => {
        const i = input();
        await expect((await run(i)).result()).rejects.toThrow();
        const view = await env.client.workflow.getHandle(`pipeline-${i.id}`).query<PipelineView>('pipeline');
        expect(view.status).toBe('Failed');
        expect(await env.entities.get(view.stages.inferenceService.id!)).toMatchObject({
          status: 'Error',
          reason: 'BuildFailed',
        });
        expect(await env.entities.get(view.stages.evaluation.id!)).toMatchObject({
          status: 'Failed',
          reason: 'FailedDependency',
        });
        expect(await env.entities.get(view.stages.report.id!)).toMatchObject({
          status: 'Failed',
          reason: 'FailedDependency',
        });
      },
    );
  });

  it('cancel during the evaluation terminates the running child, stops the session, and marks what never ran', async () => {
    await withWorker(
      (stage) => (stage === 'evaluate' ? { outcome: 'hang' } : succeed(stage)),
      async (runner, sessions) => {
        const i = input();
        const handle = await run(i);
        await until('the evaluate job to start', async () =>
          runner.started.some((j) => j.stage === 'evaluate'),
        );
        await handle.cancel();
        await expect(handle.result()).rejects.toThrow();
        const view = await handle.query<PipelineView>('pipeline');
        expect(view.status).toBe('Terminated');
        // The stage that was running shows it was cancelled, not that it failed; the one that never ran is Skipped.
        expect(view.stages.evaluation.status).toBe('Terminated');
        expect(view.stages.report.status).toBe('Skipped');
        // The ending is in the runs themselves too: the pipeline's and the evaluation's search attribute.
        expect((await handle.describe()).typedSearchAttributes.get(DyffStatus)).toBe('Terminated');
        const evaluationRun = env.client.workflow.getHandle(`evaluation-${view.stages.evaluation.id}`);
        expect((await evaluationRun.describe()).typedSearchAttributes.get(DyffStatus)).toBe('Terminated');
        const evaluation = await env.entities.get(view.stages.evaluation.id!);
        expect(evaluation).toMatchObject({ status: 'Terminated' });
        expect(runner.cancelled.some((n) => n.startsWith('evaluate-'))).toBe(true);
        // Stopping is idempotent and may be repeated (the cancel path and the evaluation's finally both stop it).
        expect(sessions.started).toHaveLength(1);
        expect([...new Set(sessions.stopped)]).toEqual(sessions.started);
        expect(await env.entities.get(view.stages.report.id!)).toMatchObject({
          status: 'Terminated',
          reason: 'TerminateCommand',
        });
      },
    );
  });

  it('an Evaluation created on its own holds a slot of the same quota: a pipeline waits with reason QuotaLimit until it ends', async () => {
    const script = (stage: string): Behaviour =>
      stage === 'evaluate' ? { outcome: 'hang' } : succeed(stage);
    await withWorker(script, async (runner) => {
      const account = `quota-${newId().slice(0, 8)}`;
      const { dataset, service } = await readyDependencies(env, account);
      const alone = newId();
      const standalone = await env.client.workflow.start('evaluationWorkflow', {
        workflowId: `evaluation-${alone}`,
        taskQueue: env.config.temporal.taskQueue,
        args: [{ id: alone, account, spec: { dataset, inferenceService: service }, concurrencyQuota: 1 }],
      });
      await until('the standalone evaluate job', async () =>
        runner.started.find((j) => j.entityId === alone),
      );

      const handle = await run(input({ account }, { ...spec, concurrencyQuota: 1 }));
      const view = await until('the pipeline at QuotaLimit', async () => {
        const v = await handle.query<PipelineView>('pipeline');
        return v.reason === 'QuotaLimit' && v;
      });
      expect(view).toMatchObject({ status: 'Running', stages: { evaluation: { status: 'Running' } } });
      expect(await env.entities.get(view.stages.evaluation.id!)).toMatchObject({
        status: 'Created',
        reason: 'QuotaLimit',
      });
      runner.finish(runner.started.find((j) => j.entityId === alone)!.name);
      await standalone.result();
      const evaluate = await until("the pipeline's evaluate job", async () =>
        runner.started.find((j) => j.stage === 'evaluate' && j.entityId === view.stages.evaluation.id),
      );
      runner.finish(evaluate.name);
      expect(((await handle.result()) as PipelineView).status).toBe('Complete');
    });
  });
});
