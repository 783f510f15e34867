import type { BenchmarkSpec } from './benchmark.js';

/*
 * The benchmark's run-time shapes and helpers, without zod (benchmark.ts re-exports them): the workflow code imports
 * these, and each workflow evaluates again every module the workflow code imports (see src/workflow-bundle.ts).
 */

export interface BenchmarkInput {
  id: string;
  account: string;
  name?: string;
  labels?: Record<string, string>;
  spec: BenchmarkSpec;
  /** Hashes of the normalised clean dataset and model specs, for reuse as in a pipeline. */
  hashes: { dataset: string; model: string };
  force?: boolean;
}

/** The clean dataset is severity 0 of no corruption. */
export const CLEAN = 'clean';

/** One evaluated dataset of the benchmark: the clean one, or one corruption at one severity. */
export interface BenchmarkCell {
  corruption: string;
  severity: number;
  status: 'Pending' | 'Running' | 'Done' | 'Failed' | 'Skipped' | 'Terminated';
  datasetId?: string;
  evaluationId?: string;
  reportId?: string;
  /** The report's headline metric (accuracy, top-k accuracy or exact match). */
  value?: number | null;
  /** Why the cell failed: the failing stage and the entity's message. */
  message?: string;
}

/** The `benchmark` query: the run's shared entities and every cell, clean first. */
export interface BenchmarkView {
  id: string;
  status: 'Admitting' | 'Running' | 'Complete' | 'Failed' | 'Terminated';
  reason?: string;
  metric: string;
  modelId?: string;
  inferenceServiceId?: string;
  cells: BenchmarkCell[];
  /** Where the report across corruptions is, once written: `reports/<benchmark id>/index.html`. */
  report?: { page: string; document: string };
}

/** The document the report across corruptions is drawn from; written beside it as `benchmark.json`. */
export interface BenchmarkReportDocument {
  benchmarkId: string;
  name?: string;
  account: string;
  createdAt: string;
  metric: string;
  split?: string;
  modelId?: string;
  inferenceServiceId?: string;
  cells: BenchmarkCell[];
}

/** The headline metric a rubric's report leads with. */
export function headlineMetric(rubric: BenchmarkSpec['report']['rubric']): string {
  if (rubric === 'classification.topKAccuracy') return 'topKAccuracy';
  if (rubric === 'text.exactMatch') return 'exactMatch';
  return 'accuracy';
}

/** Every cell of a spec, clean first, then each corruption by its severities in ascending order. */
export function benchmarkCells(spec: Pick<BenchmarkSpec, 'corruptions'>): BenchmarkCell[] {
  return [
    { corruption: CLEAN, severity: 0, status: 'Pending' },
    ...spec.corruptions.flatMap((c) =>
      [...c.severities]
        .sort((a, b) => a - b)
        .map((severity): BenchmarkCell => ({ corruption: c.name, severity, status: 'Pending' })),
    ),
  ];
}
