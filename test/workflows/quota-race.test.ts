import { expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { specHash } from '../../src/activities/lookups.js';
import { newId } from '../../src/domain/ids.js';
import type { PipelineInput, PipelineSpec } from '../../src/domain/pipeline.js';
import { PipelineSpec as PipelineSpecSchema } from '../../src/domain/pipeline.js';
import type { PipelineView } from '../../src/workflows/index.js';
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
