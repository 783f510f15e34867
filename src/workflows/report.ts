import type { Lineage } from '../activities/index.js';
import type { Entity } from '../domain/entity.js';
import { stepEnding } from '../domain/entity-endings.js';
import { artifactRefs, objectPath } from '../domain/object-layout.js';
import type { ReportSpec } from '../domain/specs.js';
import type { EntityInput } from './entity-lifecycle.js';
import { state } from './activity-proxies.js';
import { EntityLifecycle, StageFailure } from './entity-lifecycle.js';
import { requireValidInput } from './input.js';

export interface ReportWorkflowInput extends EntityInput<ReportSpec> {
  /** Set for runs started by a schedule: the report then shows the trend against earlier runs. */
  scheduleId?: string;
}

/** evaluation Complete → report job (metrics, report.json, index.html with lineage and trend) → Complete. */
export async function reportWorkflow(
  input: ReportWorkflowInput,
): Promise<{ id: string; status: 'Complete'; metrics: Record<string, number> }> {
  requireValidInput('reportWorkflow', input);
  const { id, spec } = input;
  const life = new EntityLifecycle('Report', input, true, true);
  if (!life.compact) await life.create();
  return life.run(async () => {
    // Compact runs are admitted with the look at the evaluation, before the lineage is read; runs since
    // ENDING_WITH_WORK_PATCH read the lineage in the same local activity.
    const required = { id: spec.evaluation, missing: 'NoSuchEvaluation' as const };
    const admitted: { evaluation: Entity; lineage?: Lineage } = life.endsWithWork
      ? await life.admitWithLineage(required)
      : life.compact
        ? { evaluation: (await life.admit([required], true))[0]! }
        : { evaluation: await life.requireReady(spec.evaluation, 'NoSuchEvaluation') };
    const { evaluation } = admitted;
    const evalSpec = evaluation.spec as { dataset: string; inferenceService: string };
    const { dataset, inferenceService: service, model } = admitted.lineage ?? (await readLineage(evalSpec));
    const lineage = Object.fromEntries(
      Object.entries({ dataset, model, inferenceService: service, evaluation }).map(([k, e]) => [
        k,
        e ? { id: e.id, name: e.name, status: e.status, spec: e.spec } : undefined,
      ]),
    );
    const history = input.scheduleId
      ? await state.reportHistory({ scheduleId: input.scheduleId, before: id })
      : [];
    if (!life.compact) await life.transition(['Created'], 'Admitted');
    const ref = artifactRefs.report(id);
    const args = { id, spec, dataset: evalSpec.dataset, lineage, history };
    const out = await life.runJob('report', args, 'ReportFailed', ref, true);
    const ending = stepEnding('report', life.compact ? out.output : await state.readJson(ref));
    if (!ending) throw new StageFailure('ReportFailed', `${objectPath(ref)} has no metrics`);
    await life.succeed(ending, out.finished);
    return { id, status: 'Complete', metrics: ending.details.metrics as Record<string, number> };
  });
}

/** The entities an evaluation was made from, read one local activity at a time. */
async function readLineage(evalSpec: { dataset: string; inferenceService: string }) {
  const [dataset, service] = await Promise.all([
    state.getEntity({ id: evalSpec.dataset }),
    state.getEntity({ id: evalSpec.inferenceService }),
  ]);
  const modelId = (service?.spec as { model?: string } | undefined)?.model;
  const model = modelId ? await state.getEntity({ id: modelId }) : undefined;
  return { dataset, inferenceService: service, model };
}
