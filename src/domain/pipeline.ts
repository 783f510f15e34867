import * as z from 'zod';
import { AuditProcedureSource, MAX_AUDIT_PARAMETER_BYTES } from './audit-spec.js';
import { PipelineServiceSpec } from './service-spec.js';
import { DatasetSpec, EvaluationSpec, ModelSpec, ReportSpec } from './specs.js';
import { deadlineSeconds } from './spec-fields.js';

/** Most audits one pipeline may run after its report. */
export const MAX_PIPELINE_AUDITS = 8;

/** An audit a pipeline runs after its report: its targets are the pipeline's service, evaluation and report. */
export const PipelineAuditSpec = z.strictObject({
  procedure: AuditProcedureSource,
  parameters: z
    .record(z.string(), z.unknown())
    .refine((p) => JSON.stringify(p).length <= MAX_AUDIT_PARAMETER_BYTES, {
      error: `larger than ${MAX_AUDIT_PARAMETER_BYTES} bytes as JSON`,
    })
    .default({}),
  deadlineSeconds,
});

/**
 * One spec for the whole lifecycle: data source, model source, service, evaluation settings and rubric. The ids
 * that link the stages are filled in by the pipeline as it creates (or reuses) each entity.
 */
export const PipelineSpec = z.strictObject({
  dataset: DatasetSpec,
  model: ModelSpec,
  service: PipelineServiceSpec,
  evaluation: EvaluationSpec.omit({ dataset: true, inferenceService: true }).prefault({}),
  report: ReportSpec.omit({ evaluation: true }),
  /** Audits run after the report, one after another, each an Audit entity of its own. */
  audits: z.array(PipelineAuditSpec).max(MAX_PIPELINE_AUDITS).optional(),
  /** Evaluations an account may run at once; a pipeline over the limit waits with reason QuotaLimit. @default 4 */
  concurrencyQuota: z.number().int().positive().default(4),
});
export type PipelineSpec = z.infer<typeof PipelineSpec>;

export interface PipelineInput {
  id: string;
  account: string;
  name?: string;
  labels?: Record<string, string>;
  spec: PipelineSpec;
  /** Hashes of the normalised dataset and model specs: an entity already Ready for the same hash is reused. */
  hashes: { dataset: string; model: string };
  /** Make every entity anew even when an identical one is Ready. */
  force?: boolean;
  /** Set on runs a schedule starts. */
  scheduleId?: string;
}

export type StageName = 'dataset' | 'model' | 'inferenceService' | 'evaluation' | 'report';

export interface StageView {
  id?: string;
  /** Terminated: its run was cancelled with the pipeline's, where Failed is a stage that failed on its own. */
  status: 'Pending' | 'Running' | 'Reused' | 'Done' | 'Failed' | 'Terminated' | 'Skipped';
  message?: string;
}
