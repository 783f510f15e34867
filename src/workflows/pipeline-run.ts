import { isCancellation, setHandler, sleep, upsertSearchAttributes, uuid4 } from '@temporalio/workflow';
import { hasPatch, startedAtLevel } from './patch-baseline.js';
import type { EntityKind } from '../domain/kinds.js';
import { PIPELINE_LABEL, SCHEDULE_LABEL, SPEC_HASH_LABEL } from '../domain/labels.js';
import type { PipelineInput, StageName, StageView } from '../domain/pipeline.js';
import { reportColumns } from '../domain/report-columns.js';
import type { RunIdentity } from '../domain/run-metadata.js';
import { DyffDatasetId, DyffEntityId, DyffModelId, DyffStatus } from '../domain/search-attributes.js';
import { state } from './activity-proxies.js';
import { datasetWorkflow } from './dataset.js';
import { evaluationWorkflow } from './evaluation.js';
import { inferenceServiceWorkflow } from './inference-service.js';
import type { PipelineView } from './messages.js';
import { pipelineQuery } from './messages.js';
import { modelWorkflow } from './model.js';
import { stageWaitingSignal } from './quota-messages.js';
import { reportWorkflow } from './report.js';
import { announceRun, executeEntityChild, showProgress } from './run-metadata.js';

export const KIND_OF: Record<StageName, EntityKind> = {
  dataset: 'Dataset',
  model: 'Model',
  inferenceService: 'InferenceService',
  evaluation: 'Evaluation',
  report: 'Report',
};

export const newEntityId = () => uuid4().replaceAll('-', '');

/**
 * One pipeline run's state and the work of each stage: its view (the `pipeline` query and the run's current
 * details), the links every child starts with, and each stage as a child workflow of its entity's own id.
 */
export class PipelineRun {
  readonly id: string;
  readonly view: PipelineView;
  /** False while replaying a run recorded before its children were started with their search attributes. */
  readonly tagged: boolean;
  readonly context: Pick<RunIdentity, 'datasetId' | 'modelId' | 'pipelineId' | 'scheduleId'>;

  constructor(readonly input: PipelineInput) {
    // A scheduled run carries no id of its own: each run gets a fresh one, recorded in the workflow.
    this.id = input.id || newEntityId();
    const stages = Object.fromEntries(
      (Object.keys(KIND_OF) as StageName[]).map((s) => [s, { status: 'Pending' } as StageView]),
    ) as Record<StageName, StageView>;
    this.view = { id: this.id, status: 'Admitting', stages };
    setHandler(pipelineQuery, () => this.view);
    // Found by kind, account, id and schedule however it was started; its children start with the same.
    this.tagged = announceRun({ ...input, kind: 'Pipeline', id: this.id }, () => startedAtLevel(1));
    if (!this.tagged && !input.id) upsertSearchAttributes([{ key: DyffEntityId, value: this.id }]);
    this.context = { pipelineId: this.id, scheduleId: input.scheduleId };
    this.show();
  }

  get stages(): Record<StageName, StageView> {
    return this.view.stages;
  }

  /** The run's current details: its status, then one line per stage. */
  show(): void {
    const { status, reason } = this.view;
    showProgress(
      `**${status}**${reason ? ` (${reason})` : ''}`,
      (Object.keys(this.stages) as StageName[]).map((s) => {
        const stage = this.stages[s];
        return `${s}: ${stage.status}${stage.id ? ` \`${stage.id}\`` : ''}`;
      }),
    );
  }

  setStatus(status: PipelineView['status']): void {
    this.view.status = status;
    upsertSearchAttributes([{ key: DyffStatus, value: status }]);
  }

  /** The labels of every entity the run makes: the input's, the run's and schedule's ids, and `extra`. */
  labels(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...this.input.labels,
      [PIPELINE_LABEL]: this.id,
      ...(this.input.scheduleId ? { [SCHEDULE_LABEL]: this.input.scheduleId } : {}),
      ...extra,
    };
  }

  /**
   * Admission. The evaluation holds a slot of the account's quota semaphore itself, and tells the pipeline while
   * it waits; runs recorded before that counted Admitted evaluations here, which let pipelines started together
   * all pass.
   */
  async admit(): Promise<void> {
    if (hasPatch('evaluation-quota-semaphore')) {
      setHandler(stageWaitingSignal, ({ reason }) => {
        this.view.reason = reason;
        upsertSearchAttributes([{ key: DyffStatus, value: reason ?? 'Running' }]);
      });
    } else {
      let delay = 1000;
      const { account, spec } = this.input;
      while ((await state.countAdmitted({ kind: 'Evaluation', account })) >= spec.concurrencyQuota) {
        this.view.reason = 'QuotaLimit';
        upsertSearchAttributes([{ key: DyffStatus, value: 'QuotaLimit' }]);
        await sleep(delay);
        delay = Math.min(delay * 2, 30_000);
      }
      this.view.reason = undefined;
    }
    this.setStatus('Running');
    this.show();
  }

  /** The Dataset: one Ready with the same spec is reused (unless forced), otherwise made. */
  dataset(): Promise<string> {
    return this.resource('dataset', this.input.hashes.dataset);
  }

  /** The Model, like the Dataset. */
  model(): Promise<string> {
    return this.resource('model', this.input.hashes.model);
  }

  /** Every later stage is linked to the run's Dataset and Model. */
  linkResources(datasetId: string, modelId: string): void {
    upsertSearchAttributes([
      { key: DyffDatasetId, value: datasetId },
      { key: DyffModelId, value: modelId },
    ]);
    Object.assign(this.context, { datasetId, modelId });
  }

  async inferenceService(modelId: string): Promise<string> {
    const id = newEntityId();
    const spec = { ...this.input.spec.service, model: modelId };
    await this.stage('inferenceService', id, () =>
      executeEntityChild(
        inferenceServiceWorkflow,
        'InferenceService',
        { ...this.common(id), spec },
        this.context,
        this.tagged,
      ),
    );
    return id;
  }

  async evaluation(datasetId: string, serviceId: string): Promise<string> {
    const id = newEntityId();
    const { spec } = this.input;
    const input = {
      ...this.common(id),
      spec: { ...spec.evaluation, dataset: datasetId, inferenceService: serviceId },
      concurrencyQuota: spec.concurrencyQuota,
      reportColumns: reportColumns(spec.report.parameters, 'spec.report.parameters'),
    };
    await this.stage('evaluation', id, () =>
      executeEntityChild(evaluationWorkflow, 'Evaluation', input, this.context, this.tagged),
    );
    return id;
  }

  async report(evaluationId: string): Promise<string> {
    const id = newEntityId();
    const input = {
      ...this.common(id),
      spec: { ...this.input.spec.report, evaluation: evaluationId },
      scheduleId: this.input.scheduleId,
    };
    await this.stage('report', id, () =>
      executeEntityChild(reportWorkflow, 'Report', input, this.context, this.tagged),
    );
    return id;
  }

  common(id: string) {
    return { id, account: this.input.account, name: this.input.name, labels: this.labels() };
  }

  /** A stage's child run, with its status kept in the view. */
  private async stage<T>(stage: StageName, entityId: string, fn: () => Promise<T>): Promise<T> {
    this.stages[stage] = { id: entityId, status: 'Running' };
    this.show();
    try {
      const out = await fn();
      this.stages[stage].status = 'Done';
      return out;
    } catch (err) {
      this.stages[stage].status = isCancellation(err) ? 'Terminated' : 'Failed';
      throw err;
    } finally {
      this.show();
    }
  }

  private async resource(stage: 'dataset' | 'model', hash: string): Promise<string> {
    const kind = KIND_OF[stage];
    const { account, spec } = this.input;
    if (!this.input.force) {
      const reused = await state.findReusable({ kind, account, specHash: hash });
      if (reused) {
        this.stages[stage] = { id: reused, status: 'Reused' };
        this.show();
        return reused;
      }
    }
    const entityId = newEntityId();
    const child = {
      id: entityId,
      account,
      name: this.input.name,
      labels: this.labels({ [SPEC_HASH_LABEL]: hash }),
    };
    await this.stage(stage, entityId, async () => {
      if (stage === 'dataset')
        await executeEntityChild(
          datasetWorkflow,
          kind,
          { ...child, spec: spec.dataset },
          this.context,
          this.tagged,
        );
      else
        await executeEntityChild(
          modelWorkflow,
          kind,
          { ...child, spec: spec.model },
          this.context,
          this.tagged,
        );
    });
    return entityId;
  }
}
