import * as z from 'zod';
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

export * from './benchmark-cells.js';
