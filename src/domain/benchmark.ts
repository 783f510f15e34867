import { z } from 'zod';
import { CORRUPTIONS } from './image-spec.js';
import { PipelineSpec } from './pipeline.js';

/** One corruption of a benchmark, at each of its severities (ImageNet-C's 1–5). */
export const BenchmarkCorruption = z.strictObject({
  name: z.enum(CORRUPTIONS),
  severities: z
    .array(z.number().int().min(1).max(5))
    .min(1)
    .max(5)
    .refine((s) => new Set(s).size === s.length, { error: 'each severity once' }),
  /** Seeds the noise of random corruptions, per row. @default dyff */
  seed: z.string().optional(),
  /** The BLOB column holding the images. @default image */
  column: z.string().min(1).optional(),
});
export type BenchmarkCorruption = z.infer<typeof BenchmarkCorruption>;

/**
 * A robustness benchmark: one model served by one inference service, evaluated on the clean dataset and on each
 * corruption × severity of it (a derived Dataset each), every evaluation with its own Evaluation and Report.
 */
export const BenchmarkSpec = PipelineSpec.omit({ audits: true }).extend({
  corruptions: z
    .array(BenchmarkCorruption)
    .min(1)
    .max(CORRUPTIONS.length)
    .refine((c) => new Set(c.map((x) => x.name)).size === c.length, { error: 'each corruption once' }),
  /** Corrupted datasets (ingest, evaluation, report) in progress at once; evaluations also obey the quota. @default 4 */
  parallelism: z.number().int().min(1).max(16).default(4),
});
export type BenchmarkSpec = z.infer<typeof BenchmarkSpec>;

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
