/**
 * The create table: for each kind a script may create, the workflow that runs it, how its manifest becomes that
 * workflow's input, and which spec fields name other entities. `DyffClient.create` reads only this table, so a
 * new kind is one row here.
 */
import { isAbsolute, resolve } from 'node:path';
import type { Workflow } from '@temporalio/common';
import { specHash } from './activities/lookups.js';
import type { EntityKind } from './domain/kinds.js';
import { SPEC_HASH_LABEL } from './domain/labels.js';
import type { Manifest } from './domain/manifest.js';
import type { AuditSpec } from './domain/audit-spec.js';
import type {
  DatasetSpec,
  EvaluationSpec,
  InferenceServiceSpec,
  ModelSpec,
  ReportSpec,
} from './domain/specs.js';
import type { WorkflowDefinition } from './workflows/definitions.js';
import {
  AuditWorkflow,
  DatasetWorkflow,
  EvaluationWorkflow,
  InferenceServiceWorkflow,
  ModelWorkflow,
  ReportWorkflow,
} from './workflows/definitions.js';

/** What a row needs besides the manifest: the entity's id, and where the manifest's relative paths start. */
export interface CreateContext {
  id: string;
  baseDir: string;
}

/** A spec field that names another entity, and the kind that entity must be. */
export interface Reference {
  field: string;
  kind: EntityKind;
  id: string;
}

/** The input every entity workflow shares (the workflow checks its own fields again, see workflow-inputs.ts). */
export interface CreateInput {
  id: string;
  account: string;
  name?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec: unknown;
}

export interface CreateRow {
  workflow: WorkflowDefinition<Workflow>;
  /** The workflow input for the manifest; its spec is what the request id's spec hash covers. */
  input(manifest: Manifest, ctx: CreateContext): CreateInput;
  /** The entities the spec names; each is checked to exist, and to be of its kind, before the start. */
  references(spec: unknown): Reference[];
}

/** A row typed by its workflow's input and the kind's spec; the table holds them type-erased. */
function row<W extends Workflow, S>(
  workflow: WorkflowDefinition<W>,
  input: (manifest: Manifest<S>, ctx: CreateContext) => Parameters<W>[0] & CreateInput,
  references: (spec: S) => (Reference | undefined)[] = () => [],
): CreateRow {
  return {
    workflow: workflow as unknown as WorkflowDefinition<Workflow>,
    input: (m, ctx) => input(m as Manifest<S>, ctx),
    references: (spec) => references(spec as S).filter((r) => r !== undefined),
  };
}

/** What every kind takes from the manifest as it is. */
function common(manifest: Manifest, ctx: CreateContext, extraLabels: Record<string, string> = {}) {
  const { name, labels, annotations } = manifest.metadata;
  return { id: ctx.id, account: manifest.account, name, labels: { ...labels, ...extraLabels }, annotations };
}

/** A resource the pipeline may reuse: labelled with its spec's hash, as a pipeline labels the ones it makes. */
function reusable<S extends { source: { kind: string; path?: string } }>(
  manifest: Manifest<S>,
  ctx: CreateContext,
) {
  const spec = { ...manifest.spec, source: absoluteSource(manifest.spec.source, ctx.baseDir) };
  return { ...common(manifest, ctx, { [SPEC_HASH_LABEL]: specHash(spec) }), spec };
}

const ref = (field: string, kind: EntityKind, id: string | undefined): Reference | undefined =>
  id ? { field, kind, id } : undefined;

export const CREATE_TABLE: Partial<Record<EntityKind, CreateRow>> = {
  Dataset: row(
    DatasetWorkflow,
    (m: Manifest<DatasetSpec>, ctx) => reusable(m, ctx),
    // A derived dataset names its source Dataset.
    ({ source }) => [
      ref('spec.source.dataset', 'Dataset', source.kind === 'dataset' ? source.dataset : undefined),
    ],
  ),
  Model: row(ModelWorkflow, (m: Manifest<ModelSpec>, ctx) => reusable(m, ctx)),
  InferenceService: row(
    InferenceServiceWorkflow,
    (m: Manifest<InferenceServiceSpec>, ctx) => ({ ...common(m, ctx), spec: m.spec }),
    (spec) => [ref('spec.model', 'Model', spec.model)],
  ),
  Evaluation: row(
    EvaluationWorkflow,
    (m: Manifest<EvaluationSpec>, ctx) => ({ ...common(m, ctx), spec: m.spec }),
    (spec) => [
      ref('spec.dataset', 'Dataset', spec.dataset),
      ref('spec.inferenceService', 'InferenceService', spec.inferenceService),
    ],
  ),
  Report: row(
    ReportWorkflow,
    (m: Manifest<ReportSpec>, ctx) => ({ ...common(m, ctx), spec: m.spec }),
    (spec) => [ref('spec.evaluation', 'Evaluation', spec.evaluation)],
  ),
  Audit: row(
    AuditWorkflow,
    (m: Manifest<AuditSpec>, ctx) => ({
      ...common(m, ctx),
      spec: { ...m.spec, procedure: absoluteSource(m.spec.procedure, ctx.baseDir) },
    }),
    (spec) => [
      ref('spec.inferenceService', 'InferenceService', spec.inferenceService),
      ref('spec.evaluation', 'Evaluation', spec.evaluation),
      ref('spec.report', 'Report', spec.report),
      ref('spec.dataset', 'Dataset', spec.dataset),
    ],
  ),
};

/** Local sources are read by a step in another process: make their paths absolute now. */
export function absoluteSource<S extends { kind: string; path?: string }>(source: S, baseDir: string): S {
  if (source.kind !== 'local' || source.path === undefined || isAbsolute(source.path)) return source;
  return { ...source, path: resolve(baseDir, source.path) };
}
