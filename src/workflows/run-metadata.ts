import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { ChildWorkflowOptions } from '@temporalio/workflow';
import {
  executeChild,
  setCurrentDetails,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { hasPatch } from './patch-baseline.js';
import type { EntityKind } from '../domain/kinds.js';
import { workflowIdFor } from '../domain/kinds.js';
import type { EntityMemo, RunIdentity, StateMemo } from '../domain/run-metadata.js';
import { ENTITY_MEMO, runSearchAttributes, runStartMetadata, STATE_MEMO } from '../domain/run-metadata.js';
import { DyffStatus } from '../domain/search-attributes.js';

/**
 * Runs recorded before this patch set no search attributes of their own and started their children without any;
 * the patch keeps those histories replaying while every new run describes itself.
 */
export const RUN_METADATA_PATCH = 'run-sets-its-search-attributes';

/**
 * Runs recorded before this patch spent a history event (and a write) on each piece of run metadata as it was
 * made: search attributes the starter had already set, and the entity's memo before its first state in the same
 * workflow task; and ran their bookkeeping (a dataset's record, an evaluation's quota messages) as activity tasks
 * or signals with a workflow task each. Since the patch a run writes only what changed, the entity with its first
 * state, and its bookkeeping as local activities. A patch cost a run two events itself (its marker and the
 * TemporalChangeVersion search attribute), so only the dataset and the evaluation, which save tasks by it, took it
 * until PATCH_BASELINE made it free; every kind the pipeline runs takes it since.
 */
export const LEAN_METADATA_PATCH = 'run-writes-only-changed-metadata';

/** Set by the server on a run a schedule started: the schedule's id, when the input does not carry it. */
const TemporalScheduledById = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);

/**
 * Set this run's search attributes (kind, account, id, linked ids) from its own input, so that it can be found
 * however it was started, and its current details. Returns false for a run recorded before the patch. A `lean`
 * run (see LEAN_METADATA_PATCH) started with these values already writes nothing.
 */
export function announceRun(run: RunIdentity, lean: () => boolean = () => false): boolean {
  if (!hasPatch(RUN_METADATA_PATCH)) return false;
  const given = workflowInfo().typedSearchAttributes;
  const pairs = runSearchAttributes({
    ...run,
    scheduleId: run.scheduleId ?? given.get(TemporalScheduledById),
  });
  // A status set by the starter (or carried over a continue-as-new) stays; a bare start reads Created.
  if (given.get(DyffStatus) === undefined) pairs.push({ key: DyffStatus, value: 'Created' });
  // A run started with these values already (by the client, or as a child) has nothing to write.
  const unchanged = pairs.every((p) => given.get(p.key) === p.value);
  if (!(unchanged && lean())) upsertSearchAttributes(pairs);
  return true;
}

/**
 * Keep the entity's state in the run's memo after each transition, and the entity with it (as created, written
 * once), so that a client with only Temporal access reads it (`DyffClient.get`, `list`, `wait`) without the
 * entity store.
 */
export function rememberState(state: StateMemo, entity?: EntityMemo): void {
  upsertMemo(entity ? { [ENTITY_MEMO]: entity, [STATE_MEMO]: state } : { [STATE_MEMO]: state });
}

/** What the UI shows as the run's current details: its status, then a markdown list of the given lines. */
export function showProgress(status: string, lines: (string | undefined)[]): void {
  const items = lines.filter(Boolean).map((l) => `- ${l}`);
  setCurrentDetails([status, ...(items.length ? ['', ...items] : [])].join('\n'));
}

/** The options that make a child run findable and readable from the moment it starts. */
export function childRunOptions(
  run: RunIdentity & { kind: EntityKind },
): Pick<
  ChildWorkflowOptions,
  'workflowId' | 'typedSearchAttributes' | 'staticSummary' | 'staticDetails' | 'memo'
> {
  return { workflowId: workflowIdFor(run.kind, run.id), ...runStartMetadata(run) };
}

type EntityWorkflow<I> = (input: I) => Promise<unknown>;

/**
 * Start an entity's workflow as a child and wait for it: its workflow id is its entity id, and it starts with its
 * search attributes, summary and details (`tagged`; false while replaying a run recorded before the patch, whose
 * children started with the id alone).
 */
export function executeEntityChild<I extends { id: string; account: string; name?: string; spec: unknown }>(
  workflow: EntityWorkflow<I>,
  kind: EntityKind,
  input: I & { labels?: Record<string, string> },
  context: Pick<RunIdentity, 'datasetId' | 'modelId' | 'pipelineId' | 'scheduleId'>,
  tagged: boolean,
): Promise<unknown> {
  const options = tagged
    ? childRunOptions({ ...context, ...input, kind })
    : { workflowId: workflowIdFor(kind, input.id) };
  return executeChild(workflow, { ...options, args: [input] });
}
