import { expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { specHash } from '../../src/activities/lookups.js';
import { newId } from '../../src/domain/ids.js';
import type { PipelineInput, PipelineSpec } from '../../src/domain/pipeline.js';
import { PipelineSpec as PipelineSpecSchema } from '../../src/domain/pipeline.js';
import type { PipelineView } from '../../src/workflows/index.js';
import { readyDependencies } from '../support/ready-dependencies.js';
import { RecordingSessions } from '../support/recording-sessions.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { stepEffects } from '../support/step-effects.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { startWorkerWithActivities } from '../support/temporal.js';
import { until } from '../support/worker-process.js';

const env = useOrchestrationEnv();

const spec: PipelineSpec = PipelineSpecSchema.parse({
  dataset: { source: { kind: 'url', url: 'https://example.invalid/d.csv' }, ingest: { format: 'csv' } },
  model: { source: { kind: 'urls', urls: ['https://example.invalid/m.json'] } },
  service: { runner: { kind: 'http', endpoint: 'https://example.invalid' } },
  report: { rubric: 'classification.accuracy' },
  concurrencyQuota: 1,
});

it('five pipelines started together with concurrencyQuota 1 never have two evaluations Admitted, and all complete', async () => {
  // Every step succeeds at once except the evaluate job, which runs until the test lets it finish.
  const runner = new ScriptedJobRunner((stage) =>
    stage === 'evaluate' ? { outcome: 'hang' } : { outcome: 'succeed', effect: stepEffects(env.objects) },
  );
  const worker = await startWorkerWithActivities(
    env.config,
    createActivities({
      entityStore: env.entities,
      objectStore: env.objects,
      jobRunner: runner,
      sessionRunner: new RecordingSessions(),
      quota: { checkEveryMs: 1000 },
    }),
  );
  try {
    const account = `race-${newId().slice(0, 8)}`;
    const handles = await Promise.all(
      Array.from({ length: 5 }, () => {
        const input: PipelineInput = {
          id: newId(),
          account,
          spec,
          hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) },
          force: true,
        };
        return env.client.workflow.start('pipelineWorkflow', {
          workflowId: `pipeline-${input.id}`,
          taskQueue: env.config.temporal.taskQueue,
          args: [input],
        });
      }),
    );
    const finished = new Set<string>();
    const running = () =>
      runner.started.filter((j) => j.stage === 'evaluate' && !finished.has(j.name)).map((j) => j.name);
    for (let round = 0; round < 5; round++) {
      const waiting = 4 - round;
      // One evaluation runs; every other unfinished pipeline shows that it waits for quota.
      await until(`round ${round}: one evaluate job and ${waiting} pipelines at QuotaLimit`, async () => {
        if (running().length === 0) return false;
        const views = await Promise.all(handles.map((h) => h.query<PipelineView>('pipeline')));
        return views.filter((v) => v.reason === 'QuotaLimit').length === waiting;
      });
      expect(running()).toHaveLength(1);
      const name = running()[0]!;
      finished.add(name);
      runner.finish(name);
    }
    const views = (await Promise.all(handles.map((h) => h.result()))) as PipelineView[];
    expect(views.map((v) => v.status)).toEqual(Array(5).fill('Complete'));

    // From the store's history: the Admitted intervals of the five evaluations never overlap.
    const intervals: Array<{ from: string; to: string }> = [];
    let queued = 0;
    for (const view of views) {
      const history = await env.entities.history(view.stages.evaluation.id!);
      const admitted = history.find((r) => r.to === 'Admitted');
      const ended = history.find((r) => r.from === 'Admitted');
      expect(ended?.to).toBe('Complete');
      intervals.push({ from: admitted!.time, to: ended!.time });
      if (history.some((r) => r.to === 'Created' && r.reason === 'QuotaLimit')) queued++;
    }
    intervals.sort((a, b) => a.from.localeCompare(b.from));
    for (let i = 1; i < intervals.length; i++)
      expect(intervals[i]!.from >= intervals[i - 1]!.to, JSON.stringify(intervals)).toBe(true);
    expect(queued).toBe(4);
  } finally {
    await worker.stop();
  }
}, 180_000);

it('waiters are admitted in arrival order, and the slot of a terminated holder is given back', async () => {
  const runner = new ScriptedJobRunner((stage) =>
    stage === 'evaluate' ? { outcome: 'hang' } : { outcome: 'succeed', effect: stepEffects(env.objects) },
  );
  const worker = await startWorkerWithActivities(
    env.config,
    createActivities({
      entityStore: env.entities,
      objectStore: env.objects,
      jobRunner: runner,
      sessionRunner: new RecordingSessions(),
      // The semaphore checks its holders every second instead of every minute.
      quota: { checkEveryMs: 1000 },
    }),
  );
  try {
    const account = `fifo-${newId().slice(0, 8)}`;
    const { dataset, service } = await readyDependencies(env, account);
    const start = async () => {
      const id = newId();
      const handle = await env.client.workflow.start('evaluationWorkflow', {
        workflowId: `evaluation-${id}`,
        taskQueue: env.config.temporal.taskQueue,
        args: [{ id, account, spec: { dataset, inferenceService: service }, concurrencyQuota: 1 }],
      });
      return { id, handle };
    };
    const status = async (id: string) => (await env.entities.get(id))?.status;
    const reason = async (id: string) => (await env.entities.get(id))?.reason;
    const evaluating = (id: string) =>
      runner.started.find((j) => j.entityId === id && j.stage === 'evaluate');

    // a holds the slot; b, then c, queue behind it (each queued before the next is started).
    const a = await start();
    await until('a evaluating', async () => evaluating(a.id));
    const b = await start();
    await until('b queued', async () => (await reason(b.id)) === 'QuotaLimit');
    const c = await start();
    await until('c queued', async () => (await reason(c.id)) === 'QuotaLimit');

    // a's run is terminated: nobody releases its slot, the semaphore's check takes it back, and b (not c) goes.
    await a.handle.terminate('lost run');
    await until('b evaluating', async () => evaluating(b.id));
    expect(await status(c.id)).toBe('Created');
    expect(await reason(c.id)).toBe('QuotaLimit');

    runner.finish(evaluating(b.id)!.name);
    await b.handle.result();
    await until('c evaluating', async () => evaluating(c.id));
    runner.finish(evaluating(c.id)!.name);
    expect(await c.handle.result()).toMatchObject({ status: 'Complete' });
  } finally {
    await worker.stop();
  }
}, 120_000);

it('evaluations asking together while slots are free are all granted at once: none is told to wait', async () => {
  // A request that reaches the semaphore while it is telling an earlier holder of its slot must get a slot too,
  // not a place in a queue that has free slots.
  const runner = new ScriptedJobRunner(() => ({ outcome: 'succeed', effect: stepEffects(env.objects) }));
  const worker = await startWorkerWithActivities(
    env.config,
    createActivities({
      entityStore: env.entities,
      objectStore: env.objects,
      jobRunner: runner,
      sessionRunner: new RecordingSessions(),
    }),
  );
  try {
    const account = `free-${newId().slice(0, 8)}`;
    const { dataset, service } = await readyDependencies(env, account);
    const ids = Array.from({ length: 16 }, () => newId());
    const handles = await Promise.all(
      ids.map((id) =>
        env.client.workflow.start('evaluationWorkflow', {
          workflowId: `evaluation-${id}`,
          taskQueue: env.config.temporal.taskQueue,
          args: [{ id, account, spec: { dataset, inferenceService: service }, concurrencyQuota: 100 }],
        }),
      ),
    );
    const results = (await Promise.all(handles.map((h) => h.result()))) as { status: string }[];
    expect(results.map((r) => r.status)).toEqual(Array(ids.length).fill('Complete'));
    const told: string[] = [];
    for (const id of ids) {
      const history = await env.entities.history(id);
      if (history.some((r) => r.reason === 'QuotaLimit')) told.push(id);
    }
    expect(told, 'evaluations shown as waiting for a slot while 100 were free').toEqual([]);
  } finally {
    await worker.stop();
  }
}, 180_000);
