import { ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { BenchmarkInput, BenchmarkView } from '../domain/benchmark.js';
import { benchmarkReports } from './benchmark-activities.js';
import { BenchmarkRun, rootMessage } from './benchmark-run.js';
import { requireValidInput } from './input.js';

/**
 * A robustness benchmark: the clean Dataset and the Model (in parallel, reused like a pipeline's), one
 * InferenceService, then every cell — the clean dataset and each corruption × severity of it, each its own
 * derived Dataset, Evaluation and Report — and last the report across corruptions (`reports/<id>/index.html`),
 * linked to each cell's own report. A failed cell is shown as failed and fails the run after the page is
 * written; a failed shared stage fails it at once. Cancelling cancels the running children.
 */
export async function benchmarkWorkflow(input: BenchmarkInput): Promise<BenchmarkView> {
  requireValidInput('benchmarkWorkflow', input);
  const run = new BenchmarkRun(input);
  const { view } = run;
  try {
    const [datasetId, modelId] = await Promise.all([run.resource('Dataset'), run.resource('Model')]);
    run.linkResources(datasetId, modelId);
    const serviceId = await run.inferenceService(modelId);
    await run.cells(datasetId, serviceId);
    const { spec } = input;
    view.report = await benchmarkReports.writeBenchmarkReport({
      benchmarkId: input.id,
      name: input.name,
      account: input.account,
      createdAt: new Date().toISOString(),
      metric: view.metric,
      split: spec.report.parameters.split ?? spec.evaluation.split,
      modelId,
      inferenceServiceId: serviceId,
      cells: view.cells,
    });
  } catch (err) {
    const cancelled = isCancellation(err);
    for (const cell of view.cells)
      if (cell.status === 'Pending' || cell.status === 'Running')
        cell.status = cancelled ? 'Terminated' : 'Skipped';
    run.setStatus(cancelled ? 'Terminated' : 'Failed');
    if (cancelled) throw err;
    throw ApplicationFailure.nonRetryable(
      `benchmark ${input.id}: a shared stage failed: ${rootMessage(err)}`,
      'FailedDependency',
    );
  }
  const failed = view.cells.filter((c) => c.status !== 'Done');
  if (failed.length) {
    run.setStatus('Failed');
    throw ApplicationFailure.nonRetryable(
      `benchmark ${input.id}: ${failed.length} of ${view.cells.length} evaluations failed (${failed
        .map((c) => `${c.corruption}${c.severity ? ` ${c.severity}` : ''}: ${c.message ?? c.status}`)
        .join('; ')}); the report across corruptions shows the others`,
      'FailedDependency',
    );
  }
  run.setStatus('Complete');
  return view;
}
