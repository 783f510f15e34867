import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { newId } from '../../src/domain/ids.js';
import { EXIT_TEMPFAIL } from '../../src/domain/job-outcome.js';
import type { Behaviour } from '../support/scripted-runner.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { startWorkerWithActivities } from '../support/temporal.js';
import { stepEffects } from '../support/step-effects.js';

const env = useOrchestrationEnv();

const exit = (code: number): Behaviour => ({ outcome: 'fail', exitCode: code, logTail: [`exit ${code}`] });

/** A Model whose fetch step behaves as scripted per try; returns the stored entity and the jobs started. */
async function fetchModel(script: (attempt: number) => Behaviour, maxTriesPerStage = 3) {
  const runner = new ScriptedJobRunner((_stage, attempt) => script(attempt));
  const worker = await startWorkerWithActivities(
    env.config,
    createActivities({
      entityStore: env.entities,
      objectStore: env.objects,
      jobRunner: runner,
      stepPolicy: { maxTriesPerStage, backoffSeconds: 0.2, stepDeadlineSeconds: 120 },
    }),
  );
  try {
    const id = newId();
    const handle = await env.client.workflow.start('modelWorkflow', {
      workflowId: `model-${id}`,
      taskQueue: env.config.temporal.taskQueue,
      args: [{ id, account: 'retries', spec: { source: { kind: 'local', path: '/nonexistent' } } }],
    });
    await handle.result().catch(() => undefined);
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const timers = events.filter((e) => e.timerStartedEventAttributes).length;
    const localActivities = events.filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    ).length;
    return { entity: (await env.entities.get(id))!, jobs: runner.started, timers, localActivities };
  } finally {
    await worker.stop();
  }
}

describe('a step ending is retried only when a new try can fix it', () => {
  it('killed by a signal → a new job after a backoff → Ready, the try kept in details', async () => {
    const written: Behaviour = { outcome: 'succeed', effect: stepEffects(env.objects) };
    const { entity, jobs, timers, localActivities } = await fetchModel((attempt) =>
      attempt === 1 ? exit(137) : written,
    );
    // The step activity recorded the ending from the manifest it read, retries included: the run's one local
    // activity is its admission.
    expect(entity).toMatchObject({ status: 'Ready', message: '1 files', details: { files: 1 } });
    expect(localActivities).toBe(1);
    expect(jobs.map((j) => j.name.split('-').at(-1))).toEqual(['1', '2']);
    expect(timers).toBe(1);
    expect(entity.details?.retries).toEqual([
      { stage: 'fetch', try: 1, outcome: 'signal', reason: 'exit code 137' },
    ]);
    // The step deadline from the worker's policy reaches the job.
    expect(jobs[0]?.activeDeadlineSeconds).toBe(120);
  });

  it('bad input (exit 2) or a plain failure (exit 1) fails at once, with one job', async () => {
    for (const code of [2, 1]) {
      const { entity, jobs } = await fetchModel(() => exit(code));
      expect(entity).toMatchObject({ status: 'Error', reason: 'FetchFailed' });
      expect(jobs).toHaveLength(1);
    }
  });

  it('a transient failure (exit 75) every time stops at maxTriesPerStage, each try named in the message', async () => {
    const { entity, jobs } = await fetchModel(() => exit(EXIT_TEMPFAIL), 2);
    expect(entity).toMatchObject({ status: 'Error', reason: 'FetchFailed' });
    expect(jobs).toHaveLength(2);
    expect(entity.message).toMatch(/after 2 tries \(try 1: exit code 75\)/);
    expect(entity.details?.retries).toEqual([
      { stage: 'fetch', try: 1, outcome: 'transient', reason: 'exit code 75' },
    ]);
  });
});
