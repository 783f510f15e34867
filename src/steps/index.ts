/**
 * The step programs a Job runs: `dyffctl step <name> --id <entityId> --spec '<json>'` → `runStep` (run.ts) → one
 * of these.
 * Each declares the spec it takes (validated before it starts) and where its log lines go.
 */
import { z } from 'zod';
import type { Category } from '../domain/kinds.js';
import {
  DataSourceSpec,
  DatasetSpec,
  EvaluationSpec,
  IngestSpec,
  InferenceServiceSpec,
  ModelSpec,
  ReportSpec,
} from '../domain/specs.js';
import { buildService } from './build-service.js';
import type { StepContext } from './context.js';
import { EVALUATE_OPTIONS, evaluate } from './evaluate.js';
import { fetchData } from './fetch-data.js';
import { fetchModel } from './fetch-model.js';
import { ingestDataset } from './ingest-dataset.js';
import { REPORT_OPTIONS, runReport } from './report.js';
import { verifyOutputs } from './verify-outputs.js';

export interface StepDefinition<S = unknown> {
  spec: z.ZodType<S>;
  /** Logs go to `<logCategory>/<id>/.dyff/logs/<step>/<try>/`: the category of the entity the step works for. */
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
  'fetch-model': step({
    spec: ModelSpec,
    logCategory: 'models',
    run: (ctx, id, spec) => fetchModel(ctx, { id, source: spec.source }),
  }),
  'build-service': step({
    spec: InferenceServiceSpec,
    logCategory: 'inferenceservices',
    run: (ctx, id, spec) => buildService(ctx, { id, spec }),
  }),
  evaluate: step({
    spec: EvaluationSpec,
    logCategory: 'outputs',
    options: EVALUATE_OPTIONS,
    run: (ctx, id, spec, options) => evaluate(ctx, { id, spec, options }),
  }),
  'verify-outputs': step({
    spec: EvaluationSpec,
    logCategory: 'outputs',
    run: (ctx, id, spec) => verifyOutputs(ctx, { id, spec }),
  }),
};
