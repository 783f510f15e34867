import { CancellationScope, isCancellation, patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE } from '../domain/errors.js';
import type { EvaluationSpec } from '../domain/specs.js';
import type { EntityInput } from './entity-lifecycle.js';
import { EntityLifecycle, StageFailure, state } from './entity-lifecycle.js';
import { requireValidInput } from './input.js';
import { QuotaSlot } from './quota-slot.js';

const sessions = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumInterval: '30s', maximumAttempts: 20, nonRetryableErrorTypes: [...NON_RETRYABLE] },
});

export interface EvaluationInput extends EntityInput<EvaluationSpec> {
  /** Evaluations the account may have Admitted at once; the worker's configured default when unset. */
  concurrencyQuota?: number;
}

export interface EvaluationSummary {
  expected?: number;
  written?: number;
  duplicatesRemoved?: number;
  missing?: number;
  skipped?: number | unknown[];
}

/**
 * dataset and service Ready → session started and ready → evaluate job (the client) → session stopped (always:
 * success, failure and cancel) → verify job → Complete (or Failed/Incomplete|Unverified).
 */
export async function evaluationWorkflow(
  input: EvaluationInput,
): Promise<{ id: string; status: 'Complete'; summary: EvaluationSummary }> {
  requireValidInput('evaluationWorkflow', input);
  const { id } = input;
  const life = new EntityLifecycle(id, 'outputs', 'Failed');
  life.stepDeadlineSeconds = input.spec.deadlineSeconds;
  await life.create('Evaluation', input);
  // The account's quota is a semaphore held from Admitted to the end, so that racing evaluations cannot overrun it.
  const slot = patched('evaluation-quota-semaphore')
    ? new QuotaSlot(input.account, input.concurrencyQuota)
    : undefined;
  try {
    return await evaluate(input, life, slot);
  } finally {
    await slot?.release();
  }
}

async function evaluate(input: EvaluationInput, life: EntityLifecycle, slot: QuotaSlot | undefined) {
  const { id, spec } = input;
  return life.run(async () => {
    await life.requireReady(spec.dataset, 'DataSourceMissing');
    await life.requireReady(spec.inferenceService, 'FailedDependency');
    await slot?.acquire(life);
    await life.transition(['Created'], 'Admitted');
    const description = await state.loadServiceDescription({ serviceId: spec.inferenceService });
    const sessionName = `session-${id}`;
    const specArg = JSON.stringify(spec);
    try {
      life.view.stage = 'session';
      const session = await sessions
        .startSession({
          name: sessionName,
          entityId: id,
          serviceId: spec.inferenceService,
          description,
        })
        .catch((err: unknown) => {
          if (isCancellation(err)) throw err;
          const cause = (err as { cause?: Error }).cause ?? (err as Error);
          throw new StageFailure(
            'Incomplete',
            `the inference session did not become ready: ${cause.message}`,
          );
        });
      await life.runStep(
        'evaluate',
        [
          'evaluate',
          '--id',
          id,
          '--spec',
          specArg,
          '--endpoint',
          session.endpoint ?? '',
          '--service',
          JSON.stringify(description),
        ],
        'Incomplete',
        {
          serviceAccount: 'model-runner',
          // The endpoint's API key travels as a reference; only the evaluate Job is granted it.
          ...(description.apiKey ? { secrets: [description.apiKey] } : {}),
        },
      );
    } finally {
      await CancellationScope.nonCancellable(() => state.stopSession({ name: sessionName }));
    }
    await life.runStep('verify', ['verify-outputs', '--id', id, '--spec', specArg], 'Unverified', {
      serviceAccount: 'model-runner',
    });
    const summary = (await state.readJson({ category: 'outputs', key: `${id}/verified/summary.json` })) as
      EvaluationSummary | undefined;
    if (!summary) throw new StageFailure('Unverified', `outputs/${id}/verified/summary.json was not written`);
    const skipped = Array.isArray(summary.skipped) ? summary.skipped.length : (summary.skipped ?? 0);
    await life.transition(
      ['Admitted'],
      'Complete',
      undefined,
      `${summary.written ?? '?'} outputs, ${skipped} skipped`,
      { summary },
    );
    return { id, status: 'Complete' as const, summary };
  });
}
