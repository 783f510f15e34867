import { CancellationScope, isCancellation } from '@temporalio/workflow';
import { hasPatch } from './patch-baseline.js';
import type { EvaluationSummary } from '../domain/entity-endings.js';
import { stepEnding } from '../domain/entity-endings.js';
import { artifactRefs, objectPath } from '../domain/object-layout.js';
import type { Entity } from '../domain/entity.js';
import type { ServiceDescription } from '../domain/service.js';
import type { ReportColumn } from '../domain/report-columns.js';
import { missingReportColumn } from '../domain/report-columns.js';
import type { EvaluationSpec } from '../domain/specs.js';
import type { EntityInput } from './entity-lifecycle.js';
import { sessions, state } from './activity-proxies.js';
import { EntityLifecycle, StageFailure } from './entity-lifecycle.js';
import { requireValidInput } from './input.js';
import { QuotaSlot } from './quota-slot.js';

export interface EvaluationInput extends EntityInput<EvaluationSpec> {
  /** Evaluations the account may have Admitted at once; the worker's configured default when unset. */
  concurrencyQuota?: number;
  /**
   * The dataset columns the report after it will read (a pipeline's or a benchmark's): one the dataset lacks fails
   * the evaluation before it runs, where the report would fail only after it.
   */
  reportColumns?: ReportColumn[];
}

export type { EvaluationSummary } from '../domain/entity-endings.js';

/**
 * dataset and service Ready → session started and ready → evaluate job (the client) → session stopped (always:
 * success, failure and cancel) → verify job → Complete (or Failed/Incomplete|Unverified).
 */
export async function evaluationWorkflow(
  input: EvaluationInput,
): Promise<{ id: string; status: 'Complete'; summary: EvaluationSummary }> {
  requireValidInput('evaluationWorkflow', input);
  const life = new EntityLifecycle('Evaluation', input, true, true);
  if (!life.compact) await life.create();
  // The account's quota is a semaphore held from Admitted to the end, so that racing evaluations cannot overrun it.
  const slot = hasPatch('evaluation-quota-semaphore')
    ? new QuotaSlot(input.account, input.concurrencyQuota, life.lean)
    : undefined;
  try {
    return await evaluate(input, life, slot);
  } finally {
    await slot?.release();
  }
}

/**
 * Whether the dataset lacks a column of `wanted`; nothing when its columns are not known (a dataset whose manifest
 * has no schema records none: every dataset ingested has `_index_` at least).
 */
function reportColumnProblem(wanted: ReportColumn[], dataset: Entity | undefined, datasetId: string) {
  const columns = dataset?.details?.columns;
  if (!Array.isArray(columns) || columns.length === 0) return undefined;
  return missingReportColumn(
    wanted,
    columns.map((c) => String((c as { name?: unknown }).name)),
    datasetId,
  );
}

async function evaluate(input: EvaluationInput, life: EntityLifecycle, slot: QuotaSlot | undefined) {
  const { id, spec } = input;
  return life.run(async () => {
    const requires = [
      { id: spec.dataset, missing: 'DataSourceMissing' as const },
      { id: spec.inferenceService, missing: 'FailedDependency' as const },
    ];
    // Admitted only once the account's semaphore gives a slot.
    let deps: Entity[] = [];
    if (life.endsWithWork) {
      // The slot is asked for with the admission when the dependencies are done already.
      const admitted = await life.admitAsking(requires, slot?.request);
      deps = admitted.deps;
      if (admitted.requested) slot?.asked();
    } else if (life.compact) deps = await life.admit(requires, false);
    else for (const { id, missing } of requires) await life.requireReady(id, missing);
    const problem = input.reportColumns && reportColumnProblem(input.reportColumns, deps[0], spec.dataset);
    if (problem) throw new StageFailure('InvalidSpec', `${problem} (checked before the evaluation runs)`);
    await slot?.acquire(life);
    await life.transition(['Created'], 'Admitted');
    // The Ready service's details hold its description (ENDING_WITH_WORK_PATCH); a service made before they did
    // has it only in the object store.
    const known = life.endsWithWork ? deps[1]?.details?.description : undefined;
    const description =
      (known as ServiceDescription | undefined) ??
      (await state.loadServiceDescription({ serviceId: spec.inferenceService }));
    const sessionName = `session-${id}`;
    let sessionStopped = false;
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
      const endpoint = session.endpoint ?? '';
      const args = { id, spec, endpoint, service: description };
      const out = await life.runJobWithSession('evaluate', args, 'Incomplete', sessionName);
      sessionStopped = out.sessionStopped === true;
    } finally {
      // Stopped on every ending: by the evaluate activity once its job succeeded, otherwise here.
      if (!sessionStopped)
        await CancellationScope.nonCancellable(() => state.stopSession({ name: sessionName }));
    }
    const ref = artifactRefs.verifySummary(id);
    // Its ending frees its quota slot: the activity that records the ending gives the slot back too.
    const verified = await life.runJob('verify-outputs', { id, spec }, 'Unverified', ref, {
      release: slot?.holding,
    });
    if (verified.finished && slot) slot.givenBack();
    const ending = stepEnding('verify-outputs', life.compact ? verified.output : await state.readJson(ref));
    if (!ending) throw new StageFailure('Unverified', `${objectPath(ref)} was not written`);
    await life.succeed(ending, verified.finished);
    return { id, status: 'Complete' as const, summary: ending.details.summary as EvaluationSummary };
  });
}
