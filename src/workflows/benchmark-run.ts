import { isCancellation, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { BenchmarkCell, BenchmarkInput, BenchmarkView } from '../domain/benchmark.js';
import { benchmarkCells, headlineMetric } from '../domain/benchmark-cells.js';
import type { EntityKind } from '../domain/kinds.js';
import { PIPELINE_LABEL, SPEC_HASH_LABEL } from '../domain/labels.js';
import { reportColumns } from '../domain/report-columns.js';
import type { RunIdentity } from '../domain/run-metadata.js';
import { DyffDatasetId, DyffModelId, DyffStatus } from '../domain/search-attributes.js';
import { state } from './activity-proxies.js';
import { benchmarkQuery } from './benchmark-messages.js';
import { datasetWorkflow } from './dataset.js';
import { evaluationWorkflow } from './evaluation.js';
import { inferenceServiceWorkflow } from './inference-service.js';
import { modelWorkflow } from './model.js';
import { startedAtLevel } from './patch-baseline.js';
import { newEntityId } from './pipeline-run.js';
import { stageWaitingSignal } from './quota-messages.js';
import { reportWorkflow } from './report.js';
import { announceRun, executeEntityChild, showProgress } from './run-metadata.js';

/** Thrown by a cell's stage: which stage of the cell failed, and the entity's own message. */
class CellFailure extends Error {}

/**
 * One benchmark run's state and its children: the shared Dataset, Model and InferenceService (as a pipeline
 * makes them), then each cell's corrupted Dataset, Evaluation and Report, each a child run of its entity's own id.
 */
export class BenchmarkRun {
  readonly view: BenchmarkView;
  readonly tagged: boolean;
  readonly context: Pick<RunIdentity, 'datasetId' | 'modelId' | 'pipelineId'>;

  constructor(readonly input: BenchmarkInput) {
    this.view = {
      id: input.id,
      status: 'Admitting',
      metric: headlineMetric(input.spec.report.rubric),
      cells: benchmarkCells(input.spec),
    };
    setHandler(benchmarkQuery, () => this.view);
    // An evaluation waiting for a slot of the account's quota says so to its parent.
    setHandler(stageWaitingSignal, ({ reason }) => {
      this.view.reason = reason;
      upsertSearchAttributes([{ key: DyffStatus, value: reason ?? 'Running' }]);
    });
    this.tagged = announceRun({ ...input, kind: 'Benchmark' }, () => startedAtLevel(1));
    this.context = { pipelineId: input.id };
    this.setStatus('Running');
  }

  /** The run's current details: its status, then one line per shared entity and per cell. */
  show(): void {
    const { status, reason, modelId, inferenceServiceId, cells } = this.view;
    showProgress(`**${status}**${reason ? ` (${reason})` : ''}`, [
      modelId && `model \`${modelId}\``,
      inferenceServiceId && `inference service \`${inferenceServiceId}\``,
      ...cells.map(
        (c) =>
          `${c.corruption}${c.severity ? ` ${c.severity}` : ''}: ${c.status}${c.value != null ? ` ${this.view.metric}=${c.value.toFixed(4)}` : ''}`,
      ),
    ]);
  }

  setStatus(status: BenchmarkView['status']): void {
    this.view.status = status;
    upsertSearchAttributes([{ key: DyffStatus, value: status }]);
    this.show();
  }

  labels(extra: Record<string, string> = {}): Record<string, string> {
    return { ...this.input.labels, [PIPELINE_LABEL]: this.input.id, ...extra };
  }

  common(id: string) {
    return { id, account: this.input.account, name: this.input.name, labels: this.labels() };
  }

  /** The clean Dataset and the Model: one Ready with the same spec is reused (unless forced), otherwise made. */
  async resource(kind: 'Dataset' | 'Model'): Promise<string> {
    const { account, spec, hashes, force } = this.input;
    const hash = kind === 'Dataset' ? hashes.dataset : hashes.model;
    const reused = force ? undefined : await state.findReusable({ kind, account, specHash: hash });
    if (reused) return reused;
    const id = newEntityId();
    const child = { ...this.common(id), labels: this.labels({ [SPEC_HASH_LABEL]: hash }) };
    if (kind === 'Dataset') await this.child(datasetWorkflow, kind, { ...child, spec: spec.dataset });
    else await this.child(modelWorkflow, kind, { ...child, spec: spec.model });
    return id;
  }

  /** Every cell after the shared Dataset and Model is linked to both. */
  linkResources(datasetId: string, modelId: string): void {
    upsertSearchAttributes([
      { key: DyffDatasetId, value: datasetId },
      { key: DyffModelId, value: modelId },
    ]);
    Object.assign(this.context, { datasetId, modelId });
    this.view.modelId = modelId;
    this.show();
  }

  async inferenceService(modelId: string): Promise<string> {
    const id = newEntityId();
    this.view.inferenceServiceId = id;
    this.show();
    const spec = { ...this.input.spec.service, model: modelId };
    await this.child(inferenceServiceWorkflow, 'InferenceService', { ...this.common(id), spec });
    return id;
  }

  /**
   * Every cell, at most `parallelism` at once. A cell that fails is recorded with its reason and the others go
   * on; a cancel ends the cells still running or waiting as Terminated and is rethrown.
   */
  async cells(cleanDatasetId: string, serviceId: string): Promise<void> {
    const queue = [...this.view.cells];
    const lanes = Math.min(this.input.spec.parallelism, queue.length);
    const results = await Promise.allSettled(
      Array.from({ length: lanes }, async () => {
        for (let cell = queue.shift(); cell; cell = queue.shift())
          await this.cell(cell, cleanDatasetId, serviceId);
      }),
    );
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
  }

  private async cell(cell: BenchmarkCell, cleanDatasetId: string, serviceId: string): Promise<void> {
    cell.status = 'Running';
    this.show();
    try {
      cell.datasetId =
        cell.severity === 0
          ? cleanDatasetId
          : await this.cellStage('dataset', () => this.derived(cell, cleanDatasetId));
      const evaluationId = newEntityId();
      cell.evaluationId = evaluationId;
      await this.cellStage('evaluation', () =>
        this.child(evaluationWorkflow, 'Evaluation', {
          ...this.common(evaluationId),
          spec: { ...this.input.spec.evaluation, dataset: cell.datasetId!, inferenceService: serviceId },
          concurrencyQuota: this.input.spec.concurrencyQuota,
          reportColumns: reportColumns(this.input.spec.report.parameters, 'spec.report.parameters'),
        }),
      );
      const reportId = newEntityId();
      cell.reportId = reportId;
      const report = (await this.cellStage('report', () =>
        this.child(reportWorkflow, 'Report', {
          ...this.common(reportId),
          spec: { ...this.input.spec.report, evaluation: evaluationId },
        }),
      )) as { metrics?: Record<string, number> };
      cell.value = report.metrics?.[this.view.metric] ?? null;
      cell.status = 'Done';
    } catch (err) {
      if (isCancellation(err)) {
        cell.status = 'Terminated';
        throw err;
      }
      cell.status = 'Failed';
      cell.message = err instanceof CellFailure ? err.message : String(err);
    } finally {
      this.show();
    }
  }

  /** The clean dataset under this cell's corruption: a Dataset of its own, derived from the clean one. */
  private async derived(cell: BenchmarkCell, sourceId: string): Promise<string> {
    const corruption = this.input.spec.corruptions.find((c) => c.name === cell.corruption)!;
    const id = newEntityId();
    const source = {
      kind: 'dataset' as const,
      dataset: sourceId,
      corruption: {
        name: corruption.name,
        severity: cell.severity,
        seed: corruption.seed ?? 'dyff',
        column: corruption.column ?? 'image',
      },
    };
    const spec = { source, ingest: { format: 'auto' as const } };
    await this.child(datasetWorkflow, 'Dataset', { ...this.common(id), spec });
    return id;
  }

  /** A cell's stage: a failure names the stage and carries the failed entity's own message. */
  private async cellStage<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isCancellation(err)) throw err;
      throw new CellFailure(`${stage}: ${rootMessage(err)}`);
    }
  }

  private child<I extends { id: string; account: string; name?: string; spec: unknown }>(
    workflow: (input: I) => Promise<unknown>,
    kind: EntityKind,
    input: I & { labels?: Record<string, string> },
  ): Promise<unknown> {
    return executeEntityChild(workflow, kind, input, this.context, this.tagged);
  }
}

/** The innermost cause of a child's failure: the entity's own reason, not "Child Workflow execution failed". */
export function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e && typeof e === 'object' && e.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
