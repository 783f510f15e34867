import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  setHandler,
  sleep,
  upsertSearchAttributes,
  uuid4,
} from '@temporalio/workflow';
import { PIPELINE_LABEL, SCHEDULE_LABEL, SPEC_HASH_LABEL } from '../domain/labels.js';
import type { EntityKind } from '../domain/kinds.js';
import type { PipelineInput, StageName, StageView } from '../domain/pipeline.js';
import { DyffDatasetId, DyffEntityId, DyffModelId, DyffStatus } from '../domain/search-attributes.js';
import { datasetWorkflow } from './dataset.js';
import { evaluationWorkflow } from './evaluation.js';
import { inferenceServiceWorkflow } from './inference-service.js';
import { modelWorkflow } from './model.js';
import { reportWorkflow } from './report.js';
import { state } from './activity-proxies.js';
import { requireValidInput } from './input.js';
import { announceRun, executeEntityChild, showProgress } from './run-metadata.js';
import { stageWaitingSignal } from './quota-messages.js';
import type { PipelineView } from './messages.js';
import { pipelineQuery } from './messages.js';

const KIND_OF: Record<StageName, EntityKind> = {
  dataset: 'Dataset',
  model: 'Model',
  inferenceService: 'InferenceService',
  evaluation: 'Evaluation',
  report: 'Report',
};
const FAILURE_OF: Record<StageName, 'Error' | 'Failed'> = {
  dataset: 'Error',
  model: 'Error',
  inferenceService: 'Error',
  evaluation: 'Failed',
  report: 'Failed',
};

const newEntityId = () => uuid4().replaceAll('-', '');

/**
 * The whole lifecycle: Dataset and Model (in parallel, reused when an identical spec is already Ready), then the
 * InferenceService, the Evaluation and the Report, each as a child workflow with its entity's own id. A failed
 * stage gives every stage after it FailedDependency; cancelling the pipeline cancels the running children.
 */
export async function pipelineWorkflow(input: PipelineInput): Promise<PipelineView> {
  requireValidInput('pipelineWorkflow', input);
  // A scheduled run carries no id of its own: each run gets a fresh one, recorded in the workflow.
  const id = input.id || newEntityId();
  const { spec, account } = input;
  const stages = Object.fromEntries(
    (Object.keys(KIND_OF) as StageName[]).map((s) => [s, { status: 'Pending' } as StageView]),
  ) as Record<StageName, StageView>;
  const view: PipelineView = { id, status: 'Admitting', stages };
  setHandler(pipelineQuery, () => view);
  // Found by kind, account, id and schedule however it was started; its children start with the same.
  const tagged = announceRun({ ...input, kind: 'Pipeline', id });
  if (!tagged && !input.id) upsertSearchAttributes([{ key: DyffEntityId, value: id }]);
  const context = { pipelineId: id, scheduleId: input.scheduleId } as {
    pipelineId: string;
    scheduleId?: string;
    datasetId?: string;
    modelId?: string;
  };
  /** The run's current details: one line per stage. */
  const show = () =>
    showProgress(
      `**${view.status}**${view.reason ? ` (${view.reason})` : ''}`,
      (Object.keys(stages) as StageName[]).map(
        (s) => `${s}: ${stages[s].status}${stages[s].id ? ` \`${stages[s].id}\`` : ''}`,
      ),
    );
  show();
  const labels = (extra: Record<string, string> = {}) => ({
    ...input.labels,
    [PIPELINE_LABEL]: id,
    ...(input.scheduleId ? { [SCHEDULE_LABEL]: input.scheduleId } : {}),
    ...extra,
  });

  const admit = async () => {
    let delay = 1000;
    while ((await state.countAdmitted({ kind: 'Evaluation', account })) >= spec.concurrencyQuota) {
      view.reason = 'QuotaLimit';
      upsertSearchAttributes([{ key: DyffStatus, value: 'QuotaLimit' }]);
      await sleep(delay);
      delay = Math.min(delay * 2, 30_000);
    }
    view.reason = undefined;
  };

  const run = async <T>(stage: StageName, entityId: string, fn: () => Promise<T>): Promise<T> => {
    stages[stage] = { id: entityId, status: 'Running' };
    show();
    try {
      const out = await fn();
      stages[stage].status = 'Done';
      return out;
    } catch (err) {
      stages[stage].status = 'Failed';
      throw err;
    } finally {
      show();
    }
  };

  const resource = async (stage: 'dataset' | 'model', hash: string): Promise<string> => {
    const kind = KIND_OF[stage];
    if (!input.force) {
      const reused = await state.findReusable({ kind, account, specHash: hash });
      if (reused) {
        stages[stage] = { id: reused, status: 'Reused' };
        show();
        return reused;
      }
    }
    const entityId = newEntityId();
    const child = { id: entityId, account, name: input.name, labels: labels({ [SPEC_HASH_LABEL]: hash }) };
    await run(stage, entityId, async () => {
      if (stage === 'dataset')
        await executeEntityChild(datasetWorkflow, kind, { ...child, spec: spec.dataset }, context, tagged);
      else await executeEntityChild(modelWorkflow, kind, { ...child, spec: spec.model }, context, tagged);
    });
    return entityId;
  };

  try {
    // The evaluation holds a slot of the account's quota semaphore itself; counting Admitted entities here let
    // pipelines started together all pass.
    if (patched('evaluation-quota-semaphore')) {
      setHandler(stageWaitingSignal, ({ reason }) => {
        view.reason = reason;
        upsertSearchAttributes([{ key: DyffStatus, value: reason ?? 'Running' }]);
      });
    } else await admit();
    view.status = 'Running';
    upsertSearchAttributes([{ key: DyffStatus, value: 'Running' }]);
    show();
    const [datasetId, modelId] = await Promise.all([
      resource('dataset', input.hashes.dataset),
      resource('model', input.hashes.model),
    ]);
    upsertSearchAttributes([
      { key: DyffDatasetId, value: datasetId },
      { key: DyffModelId, value: modelId },
    ]);
    Object.assign(context, { datasetId, modelId });
    const common = { account, name: input.name, labels: labels() };

    const serviceId = newEntityId();
    await run('inferenceService', serviceId, () =>
      executeEntityChild(
        inferenceServiceWorkflow,
        'InferenceService',
        { ...common, id: serviceId, spec: { ...spec.service, model: modelId } },
        context,
        tagged,
      ),
    );

    const evaluationId = newEntityId();
    await run('evaluation', evaluationId, () =>
      executeEntityChild(
        evaluationWorkflow,
        'Evaluation',
        {
          ...common,
          id: evaluationId,
          spec: { ...spec.evaluation, dataset: datasetId, inferenceService: serviceId },
          concurrencyQuota: spec.concurrencyQuota,
        },
        context,
        tagged,
      ),
    );

    const reportId = newEntityId();
    await run('report', reportId, () =>
      executeEntityChild(
        reportWorkflow,
        'Report',
        {
          ...common,
          id: reportId,
          spec: { ...spec.report, evaluation: evaluationId },
          scheduleId: input.scheduleId,
        },
        context,
        tagged,
      ),
    );
    view.status = 'Complete';
    upsertSearchAttributes([{ key: DyffStatus, value: 'Complete' }]);
    show();
    return view;
  } catch (err) {
    const cancelled = isCancellation(err);
    view.status = cancelled ? 'Terminated' : 'Failed';
    await CancellationScope.nonCancellable(async () => {
      await failDependants(stages, account, labels(), cancelled);
      upsertSearchAttributes([{ key: DyffStatus, value: view.status }]);
    });
    show();
    if (cancelled) throw err;
    const failed = (Object.keys(stages) as StageName[]).find((s) => stages[s].status === 'Failed');
    throw ApplicationFailure.nonRetryable(
      `pipeline ${id}: ${failed ?? 'a'} stage failed`,
      'FailedDependency',
    );
  }
}

/** Stages that never started are recorded as entities that failed because of the stage before them. */
async function failDependants(
  stages: Record<StageName, StageView>,
  account: string,
  labels: Record<string, string>,
  cancelled: boolean,
): Promise<void> {
  for (const stage of Object.keys(stages) as StageName[]) {
    if (stages[stage].status !== 'Pending') continue;
    const entityId = newEntityId();
    stages[stage] = { id: entityId, status: 'Skipped' };
    await state.createEntity({ id: entityId, kind: KIND_OF[stage], account, labels, spec: {} });
    await state.transition({
      id: entityId,
      allowedFrom: ['Created'],
      to: cancelled ? 'Terminated' : FAILURE_OF[stage],
      reason: cancelled ? 'TerminateCommand' : 'FailedDependency',
      message: cancelled ? 'the pipeline was cancelled' : 'an earlier stage of the pipeline failed',
    });
  }
}
