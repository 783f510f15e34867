import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import type { PipelineInput, StageName, StageView } from '../domain/pipeline.js';
import { state } from './activity-proxies.js';
import { requireValidInput } from './input.js';
import type { PipelineView } from './messages.js';
import { runPipelineAudits } from './pipeline-audits.js';
import { KIND_OF, newEntityId, PipelineRun } from './pipeline-run.js';

const FAILURE_OF: Record<StageName, 'Error' | 'Failed'> = {
  dataset: 'Error',
  model: 'Error',
  inferenceService: 'Error',
  evaluation: 'Failed',
  report: 'Failed',
};

/**
 * The whole lifecycle: Dataset and Model (in parallel, reused when an identical spec is already Ready), then the
 * InferenceService, the Evaluation and the Report, each as a child workflow with its entity's own id, then the
 * audits the spec lists (pipeline-audits.ts). A failed
 * stage gives every stage after it FailedDependency; cancelling the pipeline cancels the running children.
 */
export async function pipelineWorkflow(input: PipelineInput): Promise<PipelineView> {
  requireValidInput('pipelineWorkflow', input);
  const run = new PipelineRun(input);
  try {
    await run.admit();
    const [datasetId, modelId] = await Promise.all([run.dataset(), run.model()]);
    run.linkResources(datasetId, modelId);
    const serviceId = await run.inferenceService(modelId);
    const evaluationId = await run.evaluation(datasetId, serviceId);
    const reportId = await run.report(evaluationId);
    await runPipelineAudits(run, { inferenceService: serviceId, evaluation: evaluationId, report: reportId });
    run.setStatus('Complete');
    run.show();
    return run.view;
  } catch (err) {
    const cancelled = isCancellation(err);
    run.view.status = cancelled ? 'Terminated' : 'Failed';
    await CancellationScope.nonCancellable(async () => {
      await failDependants(
        run.stages,
        { account: input.account, name: input.name, labels: run.labels() },
        cancelled,
      );
      run.setStatus(run.view.status);
    });
    run.show();
    if (cancelled) throw err;
    const failed = (Object.keys(run.stages) as StageName[]).find((s) => run.stages[s].status === 'Failed');
    const auditFailed = run.view.audits?.some((a) => a.status === 'Failed');
    throw ApplicationFailure.nonRetryable(
      `pipeline ${run.id}: ${failed ?? (auditFailed ? 'an audit' : 'a')} stage failed`,
      'FailedDependency',
    );
  }
}

/**
 * Stages that never started are recorded as entities that failed because of the stage before them: named as the
 * pipeline's others are, with a message that names the stage that failed, so that a listing says where to look.
 */
async function failDependants(
  stages: Record<StageName, StageView>,
  owner: { account: string; name?: string; labels: Record<string, string> },
  cancelled: boolean,
): Promise<void> {
  const failed = (Object.keys(stages) as StageName[]).find((s) => stages[s].status === 'Failed');
  const because = failed
    ? `the pipeline's ${failed} stage failed (${KIND_OF[failed]} ${stages[failed].id})`
    : 'an earlier stage of the pipeline failed';
  for (const stage of Object.keys(stages) as StageName[]) {
    if (stages[stage].status !== 'Pending') continue;
    const entityId = newEntityId();
    stages[stage] = { id: entityId, status: 'Skipped' };
    const { account, name, labels } = owner;
    await state.createEntity({ id: entityId, kind: KIND_OF[stage], account, name, labels, spec: {} });
    await state.transition({
      id: entityId,
      allowedFrom: ['Created'],
      to: cancelled ? 'Terminated' : FAILURE_OF[stage],
      reason: cancelled ? 'TerminateCommand' : 'FailedDependency',
      message: cancelled ? 'the pipeline was cancelled' : because,
    });
  }
}
