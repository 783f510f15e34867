import { WorkflowFailedError } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import type { RunStepInput } from '../../src/activities/index.js';
import { createActivities } from '../../src/activities/index.js';
import { newId } from '../../src/domain/ids.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { startWorkerWithActivities } from '../support/temporal.js';
import { stepEffects } from '../support/step-effects.js';

const env = useOrchestrationEnv();

/*
 * The step activity records the entity's ending (ENDING_WITH_WORK_PATCH). A cancel that reaches the run after
 * that write and before the activity's completion finds the entity Ready: the run ends cancelled, and the entity
 * keeps the work it finished (its Terminated transition is refused, not a failure of the run).
 */
it('a cancel that comes after the last step recorded Ready ends the run cancelled and leaves the entity Ready', async () => {
  const runner = new ScriptedJobRunner(() => ({ outcome: 'succeed', effect: stepEffects(env.objects) }));
  const activities = createActivities({
    entityStore: env.entities,
    objectStore: env.objects,
    jobRunner: runner,
  });
  const id = newId();
  const handle = () => env.client.workflow.getHandle(`model-${id}`);
  const worker = await startWorkerWithActivities(env.config, {
    ...activities,
    // The real step activity; once it has recorded the ending, the run is cancelled before the activity returns.
    async runStep(input: RunStepInput) {
      const out = await activities.runStep(input);
      if (!out.finished) return out;
      await handle().cancel();
      for (let i = 0; i < 200 && (await handle().describe()).status.name === 'RUNNING'; i++) await sleep(50);
      return out;
    },
  });
  try {
    await env.client.workflow.start('modelWorkflow', {
      workflowId: `model-${id}`,
      taskQueue: env.config.temporal.taskQueue,
      args: [{ id, account: 'race', spec: { source: { kind: 'local', path: '/nonexistent' } } }],
    });
    const ended = await handle()
      .result()
      .then(
        () => 'completed',
        (err: unknown) =>
          err instanceof WorkflowFailedError ? `${err.cause?.name}: ${err.cause?.message}` : String(err),
      );
    expect(ended).toMatch(/^CancelledFailure/);
    expect((await handle().describe()).status.name).toBe('CANCELLED');
    expect(await env.entities.get(id)).toMatchObject({ status: 'Ready', message: '1 files' });
  } finally {
    await worker.stop();
  }
});
