import { defaultPayloadConverter } from '@temporalio/common';
import { expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import type { StateMemo } from '../../src/domain/run-metadata.js';
import { PATCH_LEVEL_MEMO, STATE_MEMO, startMemo } from '../../src/domain/run-metadata.js';
import { newId } from '../../src/domain/ids.js';
import { workflowIdFor } from '../../src/domain/kinds.js';
import type { EntityInput } from '../../src/workflows/entity-lifecycle.js';
import { recheckDependencyUpdate } from '../../src/workflows/messages.js';
import { RecordingSessions } from '../support/recording-sessions.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { stepEffects } from '../support/step-effects.js';
import { until } from '../support/worker-process.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { startWorkerWithActivities } from '../support/temporal.js';

const env = useOrchestrationEnv();

/*
 * The dev server fires timers about once a second, so the test makes each check happen at once with the recheck
 * update instead of waiting for a short timer. Each check is a round trip to the server (0.1-0.2 s on a loaded
 * two-core machine), so `npm test` runs 300, which would already write about 1,200 events without the cut;
 * `npm run test:long-wait` runs the full 10,000 (DYFF_WAIT_POLLS).
 */
const POLLS = Number(process.env.DYFF_WAIT_POLLS ?? 300);
// A run is cut after 100 checks (about four events each) or 1,000 events, whichever comes first.
const HISTORY_BOUND = 1_000;

it(
  `a run waiting ${POLLS} checks for its dependency keeps its history under ${HISTORY_BOUND} events`,
  async () => {
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
      const t0 = Date.now();
      const modelId = newId();
      await env.entities.create({ id: modelId, kind: 'Model', account: 'wait', spec: {} });
      const id = newId();
      const workflowId = workflowIdFor('InferenceService', id);
      const input: EntityInput<unknown> = {
        id,
        account: 'wait',
        spec: { model: modelId, runner: { kind: 'http', endpoint: 'https://example.invalid' } },
        // The timer never fires during the test: every check is one the test asks for.
        waitPolicy: { initialMs: 3_600_000, maxMs: 3_600_000 },
      };
      const started = await env.client.workflow.start('inferenceServiceWorkflow', {
        workflowId,
        taskQueue: env.config.temporal.taskQueue,
        args: [input],
        // Started at the patch level, as the client starts it: every run of the chain keeps it.
        memo: startMemo(),
      });
      const current = env.client.workflow.getHandle(workflowId);
      // What it waits for is in the run itself: its memo (what a Temporal-only client reads) says why.
      const waiting = await until("the wait in the run's memo", async () => {
        const memo = (await current.describe()).memo?.[STATE_MEMO] as StateMemo | undefined;
        return memo?.reason === 'UnsatisfiedDependency' && memo;
      });
      expect(waiting).toMatchObject({ status: 'Created', message: `waiting for Model ${modelId} (Created)` });
      let polled = 0;
      let longest = 0;
      const runs = new Set<string>();
      while (polled < POLLS) {
        const history = await current.fetchHistory();
        const events = history.events ?? [];
        longest = Math.max(longest, events.length);
        expect(events.length).toBeLessThan(HISTORY_BOUND);
        const attrs = events[0]?.workflowExecutionStartedEventAttributes;
        const [runInput] = (attrs?.input?.payloads ?? []).map((p) =>
          defaultPayloadConverter.fromPayload<EntityInput<unknown>>(p),
        );
        runs.add(attrs?.originalExecutionRunId ?? '');
        // Continued as new, a run still starts at the patch level, so it asks for no patch either.
        expect(attrs?.memo?.fields?.[PATCH_LEVEL_MEMO]).toBeDefined();
        expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toEqual(
          [],
        );
        polled = runInput?.waitPolicy?.polled ?? 0;
        // Compressed time: a batch of checks, each as soon as the one before has been recorded.
        for (let i = 0; i < 50 && polled < POLLS; i++) await current.executeUpdate(recheckDependencyUpdate);
      }
      expect(runs.size).toBeGreaterThan(1);
      expect(await env.entities.get(id)).toMatchObject({ status: 'Created' });

      // The dependency becomes Ready: the latest run goes on as if it had never been restarted.
      await env.entities.transition({ id: modelId, allowedFrom: ['Created'], to: 'Admitted' });
      await env.entities.transition({ id: modelId, allowedFrom: ['Admitted'], to: 'Ready' });
      // The latest run started with the last checks, and may have looked at the model just before it became Ready:
      // its next timed check is an hour away, so one more check is asked for, as an operator would. A run that saw
      // Ready has nothing to wait for and ends, and the update fails with it.
      await current.executeUpdate(recheckDependencyUpdate).catch(() => undefined);
      expect(await started.result()).toEqual({ id, status: 'Ready' });
      expect(runner.started.map((j) => j.stage)).toEqual(['build']);
      console.log(
        `${polled} checks in ${(Date.now() - t0) / 1000} s: at most ${longest} events per run, ${runs.size} runs`,
      );
    } finally {
      await worker.stop();
    }
  },
  POLLS * 150 + 120_000,
);
