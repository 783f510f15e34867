/**
 * The step programs a Job runs: `dyffctl step <name> --id <entityId> --spec '<json>'` → `runStepProgram` (run.ts) → one
 * of these. There is one per entry of the step catalogue (src/domain/step-catalogue.ts), which holds the rest of
 * each step's contract (identity, grants, log category, environment); each declares the spec it takes (validated
 * before it starts). Each program is imported when it runs, after the step's first log line: a job then loads only
 * its own program, and DuckDB only when the step uses it.
 */
import type { z } from 'zod';
import type { StepName } from '../domain/step-catalogue.js';
import {
  AuditSpec,
  DataSourceSpec,
  DatasetSpec,
  EvaluationSpec,
  InferenceServiceSpec,
  ModelSpec,
  ReportSpec,
} from '../domain/specs.js';
import type { StepContext } from './context.js';
import { EVALUATE_OPTIONS, FETCH_PROCEDURE_OPTIONS, REPORT_OPTIONS, RUN_AUDIT_OPTIONS } from './options.js';

export interface StepDefinition<S = unknown> {
  spec: z.ZodType<S>;
  /** Options besides --id, --spec and --work-dir (all strings); `run` gets every option's value. */
  options?: Record<string, { type: 'string' }>;
  run(ctx: StepContext, id: string, spec: S, options: Record<string, string | undefined>): Promise<unknown>;
}

const step = <S>(def: StepDefinition<S>): StepDefinition => def as StepDefinition;

/** Every program of the catalogue, and only those (the type makes a missing or extra one a compile error). */
export const STEPS: { readonly [N in StepName]: StepDefinition } = {
  'fetch-data': step({
    spec: DatasetSpec,
    run: async (ctx, id, spec) =>
      (await import('./fetch-data.js')).fetchData(ctx, { id, source: spec.source }),
  }),
  'ingest-dataset': step({
    // The source is not needed to ingest, so a spec with only `ingest` will do; the rest of a DatasetSpec
    // (resources, deadlineSeconds) is the Job's business and accepted as the workflow passes it.
    spec: DatasetSpec.extend({ source: DataSourceSpec.optional() }),
    run: async (ctx, id, spec) =>
      (await import('./ingest-dataset.js')).ingestDataset(ctx, {
        id,
        ingest: spec.ingest,
        source: spec.source,
      }),
  }),
  report: step({
    spec: ReportSpec,
    options: REPORT_OPTIONS,
    run: async (ctx, id, spec, options) =>
      (await import('./report.js')).runReport(ctx, { id, spec, options }),
  }),
  'fetch-model': step({
    spec: ModelSpec,
    run: async (ctx, id, spec) =>
      (await import('./fetch-model.js')).fetchModel(ctx, { id, source: spec.source }),
  }),
  'build-service': step({
    spec: InferenceServiceSpec,
    run: async (ctx, id, spec) => (await import('./build-service.js')).buildService(ctx, { id, spec }),
  }),
  evaluate: step({
    spec: EvaluationSpec,
    options: EVALUATE_OPTIONS,
    run: async (ctx, id, spec, options) =>
      (await import('./evaluate.js')).evaluate(ctx, { id, spec, options }),
  }),
  'verify-outputs': step({
    spec: EvaluationSpec,
    run: async (ctx, id, spec) => (await import('./verify-outputs.js')).verifyOutputs(ctx, { id, spec }),
  }),
  'fetch-procedure': step({
    spec: AuditSpec,
    options: FETCH_PROCEDURE_OPTIONS,
    run: async (ctx, id, spec, options) =>
      (await import('./audit/fetch-procedure.js')).fetchProcedure(ctx, { id, spec, source: options.source }),
  }),
  'run-audit': step({
    spec: AuditSpec,
    options: RUN_AUDIT_OPTIONS,
    run: async (ctx, id, spec, options) =>
      (await import('./audit/run-audit.js')).runAudit(ctx, { id, spec, options }),
  }),
};
