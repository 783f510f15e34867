/**
 * The step programs a Job runs: `dyffctl step <name> --id <entityId> --spec '<json>'` → `runStep` (run.ts) → one
 * of these.
 * Each declares the spec it takes (validated before it starts) and where its log lines go.
 */
import { z } from 'zod';
import type { Category } from '../domain/kinds.js';
import { DataSourceSpec, DatasetSpec, IngestSpec, ReportSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { fetchData } from './fetch-data.js';
import { ingestDataset } from './ingest-dataset.js';
import { REPORT_OPTIONS, runReport } from './report.js';

export interface StepDefinition<S = unknown> {
  spec: z.ZodType<S>;
  /** Logs go to `<logCategory>/<id>/.dyff/logs.txt`: the category of the entity the step works for. */
  logCategory: Category;
  /** Options besides --id, --spec and --work-dir (all strings); `run` gets every option's value. */
  options?: Record<string, { type: 'string' }>;
  run(ctx: StepContext, id: string, spec: S, options: Record<string, string | undefined>): Promise<unknown>;
}

const step = <S>(def: StepDefinition<S>): StepDefinition => def as StepDefinition;

export const STEPS: Record<string, StepDefinition> = {
  'fetch-data': step({
    spec: DatasetSpec,
    logCategory: 'datasets',
    run: (ctx, id, spec) => fetchData(ctx, { id, source: spec.source }),
  }),
  'ingest-dataset': step({
    // The source is not needed to ingest, so a spec with only `ingest` will do.
    spec: z.strictObject({
      source: DataSourceSpec.optional(),
      ingest: IngestSpec.default({ format: 'auto' }),
    }),
    logCategory: 'datasets',
    run: (ctx, id, spec) => ingestDataset(ctx, { id, ingest: spec.ingest }),
  }),
  report: step({
    spec: ReportSpec,
    logCategory: 'reports',
    options: REPORT_OPTIONS,
    run: (ctx, id, spec, options) => runReport(ctx, { id, spec, options }),
  }),
};
