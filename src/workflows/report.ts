import type { ReportHeadline } from '../domain/artifacts.js';
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
    // Compact runs are admitted with the look at the evaluation, before the lineage is read.
    const evaluation = life.compact
      ? (await life.admit([{ id: spec.evaluation, missing: 'NoSuchEvaluation' }], true))[0]!
      : await life.requireReady(spec.evaluation, 'NoSuchEvaluation');
    const evalSpec = evaluation.spec as { dataset: string; inferenceService: string };
    const [dataset, service] = await Promise.all([
      state.getEntity({ id: evalSpec.dataset }),
      state.getEntity({ id: evalSpec.inferenceService }),
    ]);
    const modelId = (service?.spec as { model?: string } | undefined)?.model;
    const model = modelId ? await state.getEntity({ id: modelId }) : undefined;
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
    const out = await life.runJob('report', args, 'ReportFailed', ref);
    const report = (life.compact ? out.output : await state.readJson(ref)) as ReportHeadline | undefined;
    if (!report?.metrics) throw new StageFailure('ReportFailed', `${objectPath(ref)} has no metrics`);
    const metrics = Object.fromEntries(
      Object.entries(report.metrics).filter((e): e is [string, number] => typeof e[1] === 'number'),
    );
    await life.transition(['Admitted'], 'Complete', undefined, summarize(metrics), { metrics });
    return { id, status: 'Complete', metrics };
  });
}

function summarize(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${Math.round(v * 10_000) / 10_000}`)
    .join(' ');
}
