import type { SearchAttributePair } from '@temporalio/common';
import type { Entity } from './entity.js';
import type { EntityKind } from './kinds.js';
import { JOB_KINDS } from './kinds.js';
import { PIPELINE_LABEL, SCHEDULE_LABEL } from './labels.js';
import {
  DyffAccount,
  DyffDatasetId,
  DyffEntityId,
  DyffKind,
  DyffModelId,
  DyffPipelineId,
  DyffScheduleId,
  DyffStatus,
  DyffSummary,
} from './search-attributes.js';

/**
 * What a run says about itself in Temporal: its search attributes (`DyffKind="Model"`), its one-line summary and
 * its details, all derived from the workflow input alone, so that a run reads the same however it was started
 * (dyffctl, DyffClient, a pipeline, a schedule, the plain Temporal CLI).
 */
export interface RunIdentity {
  kind: EntityKind | 'Pipeline' | 'Benchmark';
  id: string;
  account: string;
  name?: string;
  labels?: Record<string, string>;
  spec?: unknown;
  /** Known to whoever starts the run (a pipeline knows its Dataset and Model for every later stage). */
  datasetId?: string;
  modelId?: string;
  pipelineId?: string;
  scheduleId?: string;
}

/** The ids a run is linked to, from its own spec and labels, over what the starter already knew. */
export function relatedIds(
  run: RunIdentity,
): Pick<RunIdentity, 'datasetId' | 'modelId' | 'pipelineId' | 'scheduleId'> {
  const spec = (run.spec ?? {}) as { dataset?: unknown; model?: unknown };
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const own = {
    datasetId: run.kind === 'Dataset' ? run.id : str(spec.dataset),
    modelId: run.kind === 'Model' ? run.id : str(spec.model),
    pipelineId: run.kind === 'Pipeline' ? run.id : run.labels?.[PIPELINE_LABEL],
    scheduleId: run.labels?.[SCHEDULE_LABEL],
  };
  return {
    datasetId: own.datasetId ?? run.datasetId,
    // A pipeline's spec holds the model's source, not an id.
    modelId: (run.kind === 'Pipeline' ? undefined : own.modelId) ?? run.modelId,
    pipelineId: own.pipelineId ?? run.pipelineId,
    scheduleId: run.scheduleId ?? own.scheduleId,
  };
}

/** The search attributes of a run: kind, account and id always; the linked ids where they apply. */
export function runSearchAttributes(run: RunIdentity): SearchAttributePair[] {
  const ids = relatedIds(run);
  const pairs: SearchAttributePair[] = [
    { key: DyffKind, value: run.kind },
    { key: DyffAccount, value: run.account },
    { key: DyffEntityId, value: run.id },
    { key: DyffSummary, value: runSummary(run) },
  ];
  if (ids.datasetId) pairs.push({ key: DyffDatasetId, value: ids.datasetId });
  if (ids.modelId) pairs.push({ key: DyffModelId, value: ids.modelId });
  if (ids.pipelineId) pairs.push({ key: DyffPipelineId, value: ids.pipelineId });
  if (ids.scheduleId) pairs.push({ key: DyffScheduleId, value: ids.scheduleId });
  return pairs;
}

/** One line for the workflow list: `Dataset spamassassin (public)`. */
export function runSummary(run: Pick<RunIdentity, 'kind' | 'id' | 'name' | 'account'>): string {
  return `${run.kind} ${run.name ?? run.id} (${run.account})`;
}

const MAX_DETAIL_LINES = 16;
const MAX_VALUE_CHARS = 120;

/**
 * The run's details, as Temporal markdown: its id and account, then a list of its links and the spec's settings
 * that say what it does (`source.kind: url`, `ingest.format: csv`, `replications: 2`), flattened, at most 16 lines. Secrets appear only
 * as the references the spec holds.
 */
export function runDetails(run: RunIdentity): string {
  const ids = relatedIds(run);
  const lines = [`**${run.kind}** \`${run.id}\` · account \`${run.account}\``];
  for (const [label, value] of [
    ['dataset', run.kind === 'Dataset' ? undefined : ids.datasetId],
    ['model', run.kind === 'Model' ? undefined : ids.modelId],
    ['pipeline', run.kind === 'Pipeline' ? undefined : ids.pipelineId],
    ['schedule', ids.scheduleId],
  ] as const)
    if (value) lines.push(`- ${label}: \`${value}\``);
  const settings: string[] = [];
  flatten(run.spec, '', settings, 0);
  lines.push(...settings.slice(0, MAX_DETAIL_LINES - lines.length).map((l) => `- ${l}`));
  // A blank line before the list, or markdown runs it into the first line.
  return [lines[0], '', ...lines.slice(1)].join('\n');
}

/**
 * The memo key for the patch level a run was started at. A run started at a level takes the new branch of every
 * patch that level stands for without asking Temporal for a patch (src/workflows/patch-baseline.ts), so its history
 * holds no patch marker and no TemporalChangeVersion upsert: two events and a visibility write less per run.
 */
export const PATCH_LEVEL_MEMO = 'dyffPatchLevel';

/**
 * The patch level this code starts runs at. Raise it only together with `startedAtLevel` checks for the patches
 * the new level stands for; a run started at a lower level (or without one) keeps asking for those by marker.
 */
export const PATCH_LEVEL = 1;

/** The memo a run starts with: its patch level. */
export const startMemo = (): Record<string, unknown> => ({ [PATCH_LEVEL_MEMO]: PATCH_LEVEL });

/** What a run starts with: its search attributes (status Created), its summary, its details and its patch level. */
export function runStartMetadata(run: RunIdentity): {
  typedSearchAttributes: SearchAttributePair[];
  staticSummary: string;
  staticDetails: string;
  memo: Record<string, unknown>;
} {
  return {
    typedSearchAttributes: [...runSearchAttributes(run), { key: DyffStatus, value: 'Created' }],
    staticSummary: runSummary(run),
    staticDetails: runDetails(run),
    memo: startMemo(),
  };
}

function flatten(value: unknown, path: string, out: string[], depth: number): void {
  if (value === undefined || value === null || out.length >= MAX_DETAIL_LINES) return;
  if (Array.isArray(value)) {
    const scalars = value.filter((v) => typeof v !== 'object');
    if (scalars.length === value.length) out.push(`${path}: ${clip(scalars.join(', '))}`);
    else out.push(`${path}: ${value.length} entries`);
    return;
  }
  if (typeof value === 'object') {
    if (depth >= 2) return;
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out, depth + 1);
    return;
  }
  out.push(`${path}: ${clip(String(value))}`);
}

const clip = (s: string) => (s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s);

/** The run's memo keys: the entity as created (set once) and its current state (set at each transition). */
export const ENTITY_MEMO = 'dyffEntity';
export const STATE_MEMO = 'dyffState';

export type EntityMemo = Pick<Entity, 'id' | 'kind' | 'account' | 'name' | 'labels' | 'annotations' | 'spec'>;
export type StateMemo = Pick<Entity, 'status' | 'reason' | 'message' | 'details' | 'lastTransitionTime'>;

/** How a run ended, as Temporal reports it (`WorkflowExecutionStatusName`). */
export type RunStatus =
  'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TERMINATED' | 'CONTINUED_AS_NEW' | 'TIMED_OUT' | string;

/**
 * The entity as its run keeps it in its memo, for a client that reads Temporal instead of the entity store;
 * undefined for a run recorded before runs kept it. The creation time is the run's start. A run that ended
 * without recording an ending (terminated from outside, timed out, or cancelled while its last writes were lost)
 * reads as what the reaper makes of it in the store: Terminated, or the kind's failure status.
 */
export function entityFromMemo(
  memo: Record<string, unknown> | undefined,
  startTime: Date,
  run?: { status: RunStatus; closeTime?: Date },
): Entity | undefined {
  const entity = memo?.[ENTITY_MEMO] as EntityMemo | undefined;
  const state = memo?.[STATE_MEMO] as StateMemo | undefined;
  if (!entity?.id || !state?.status) return undefined;
  const out: Entity = {
    ...entity,
    labels: entity.labels ?? {},
    annotations: entity.annotations ?? {},
    ...state,
    creationTime: startTime.toISOString(),
  };
  const open = state.status === 'Created' || state.status === 'Admitted';
  if (!open || !run || run.status === 'RUNNING' || run.status === 'CONTINUED_AS_NEW') return out;
  const ended = { lastTransitionTime: (run.closeTime ?? new Date()).toISOString() };
  if (run.status === 'CANCELLED')
    return {
      ...out,
      ...ended,
      status: 'Terminated',
      reason: 'TerminateCommand',
      message: 'cancelled by request',
    };
  if (run.status === 'TERMINATED' || run.status === 'COMPLETED')
    return {
      ...out,
      ...ended,
      status: 'Terminated',
      reason: 'TerminateCommand',
      message: 'the workflow was terminated',
    };
  return {
    ...out,
    ...ended,
    status: JOB_KINDS.has(entity.kind) ? 'Failed' : 'Error',
    reason: 'Interrupted',
    message: `the workflow ended ${run.status.toLowerCase().replace('_', ' ')} before recording an ending`,
  };
}
