import * as z from 'zod';
import { BenchmarkSpec } from './benchmark.js';
import { PipelineSpec } from './pipeline.js';
import {
  AuditSpec,
  DatasetSpec,
  EvaluationSpec,
  InferenceServiceSpec,
  Metadata,
  ModelSpec,
  ReportSpec,
  accountName,
  entityId,
  labels,
} from './specs.js';

/**
 * What each workflow accepts as its input, checked inside the workflow before it records anything: a run started
 * from the plain Temporal CLI or a schedule gets the same checks as one started by dyffctl. Unknown fields are
 * refused, so a misspelt field cannot go unnoticed.
 */
const entityInput = <S extends z.ZodType>(spec: S) =>
  z.strictObject({
    id: entityId,
    account: accountName,
    name: Metadata.shape.name,
    labels: labels.optional(),
    annotations: Metadata.shape.annotations,
    spec,
    waitPolicy: waitPolicy.optional(),
  });

/** How a waiting entity polls its dependencies; set by tests, and carried across continue-as-new. */
const waitPolicy = z.strictObject({
  initialMs: z.number().int().positive().optional(),
  maxMs: z.number().int().positive().optional(),
  pollsPerRun: z.number().int().positive().optional(),
  eventsPerRun: z.number().int().positive().optional(),
  resumeMs: z.number().nonnegative().optional(),
  polled: z.number().int().nonnegative().optional(),
});

const specHash = z.string().regex(/^[0-9a-f]{32}$/, { error: 'expected 32 lowercase hex digits' });

const WORKFLOW_INPUTS = {
  datasetWorkflow: entityInput(DatasetSpec),
  modelWorkflow: entityInput(ModelSpec),
  inferenceServiceWorkflow: entityInput(InferenceServiceSpec),
  evaluationWorkflow: entityInput(EvaluationSpec).extend({
    concurrencyQuota: z.number().int().positive().optional(),
    reportColumns: z
      .array(z.strictObject({ field: z.string().min(1).max(200), column: z.string().min(1).max(1000) }))
      .max(8)
      .optional(),
  }),
  reportWorkflow: entityInput(ReportSpec).extend({ scheduleId: z.string().min(1).max(200).optional() }),
  auditWorkflow: entityInput(AuditSpec),
  pipelineWorkflow: z.strictObject({
    // A scheduled run carries no id: the workflow makes one.
    id: z.union([entityId, z.literal('')]),
    account: accountName,
    name: Metadata.shape.name,
    labels: labels.optional(),
    spec: PipelineSpec,
    hashes: z.strictObject({ dataset: specHash, model: specHash }),
    force: z.boolean().optional(),
    scheduleId: z.string().min(1).max(200).optional(),
  }),
  benchmarkWorkflow: z.strictObject({
    id: entityId,
    account: accountName,
    name: Metadata.shape.name,
    labels: labels.optional(),
    spec: BenchmarkSpec,
    hashes: z.strictObject({ dataset: specHash, model: specHash }),
    force: z.boolean().optional(),
  }),
} as const;

export type WorkflowName = keyof typeof WORKFLOW_INPUTS;

/** Every problem of an input, each as `path: message` (`id: expected 32 lowercase hex digits`). */
export function workflowInputProblems(workflow: WorkflowName, input: unknown): string[] {
  const result = WORKFLOW_INPUTS[workflow].safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((i) => `${i.path.map(String).join('.') || '(input)'}: ${i.message}`);
}
