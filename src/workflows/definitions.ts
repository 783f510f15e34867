/**
 * The workflows, queries and updates by the names they are registered under, typed by the workflow functions:
 * one definition shared by the workflows and every client (DyffClient, dyffctl, schedules, activities, tests,
 * benchmarks). Renaming a workflow function breaks the build here, not a start at run time. Clients load this file
 * and `messages.ts` only; the workflow code itself stays out of their processes (`import type`).
 */
import type { Client, WorkflowHandleWithFirstExecutionRunId, WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { EntityKind } from '../domain/kinds.js';
import type * as workflows from './index.js';

type Registered = typeof workflows;
/** The names the worker registers: the workflow functions exported by `./index.ts`. */
export type WorkflowName = {
  [K in keyof Registered]: Registered[K] extends Workflow ? K : never;
}[keyof Registered];

/** A workflow as a client names it: its registered name, typed by its function (input and result). */
export interface WorkflowDefinition<W extends Workflow> {
  readonly name: WorkflowName;
  /** Types only; never set. */
  readonly type?: W;
}

function defineWorkflow<K extends WorkflowName>(name: K): WorkflowDefinition<Registered[K]> {
  return { name };
}

export const DatasetWorkflow = defineWorkflow('datasetWorkflow');
export const ModelWorkflow = defineWorkflow('modelWorkflow');
export const InferenceServiceWorkflow = defineWorkflow('inferenceServiceWorkflow');
export const EvaluationWorkflow = defineWorkflow('evaluationWorkflow');
export const ReportWorkflow = defineWorkflow('reportWorkflow');
export const AuditWorkflow = defineWorkflow('auditWorkflow');
export const PipelineWorkflow = defineWorkflow('pipelineWorkflow');
export const BenchmarkWorkflow = defineWorkflow('benchmarkWorkflow');
export const QuotaWorkflow = defineWorkflow('quotaWorkflow');
export const ReaperWorkflow = defineWorkflow('reaperWorkflow');

/** The workflow that runs each entity kind's lifecycle (`<kind>-<id>`). */
export const ENTITY_WORKFLOWS = {
  Dataset: DatasetWorkflow,
  Model: ModelWorkflow,
  InferenceService: InferenceServiceWorkflow,
  Evaluation: EvaluationWorkflow,
  Report: ReportWorkflow,
  Audit: AuditWorkflow,
} as const satisfies Partial<Record<EntityKind, WorkflowDefinition<Workflow>>>;

/** Start a workflow by its definition: the options' `args` are checked against the workflow's input. */
export function startWorkflow<W extends Workflow>(
  client: Client,
  definition: WorkflowDefinition<W>,
  options: WorkflowStartOptions<W>,
): Promise<WorkflowHandleWithFirstExecutionRunId<W>> {
  return client.workflow.start<W>(definition.name, options);
}

export { pipelineQuery, recheckDependencyUpdate, statusQuery } from './messages.js';
export { benchmarkQuery } from './benchmark-messages.js';
export type { PipelineView, StatusView } from './messages.js';
