/**
 * Entities read from Temporal alone: each entity's run keeps it in its memo and is found by its search
 * attributes, so a client with a Temporal address and credentials, and nothing else, lists them.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Entity } from './domain/entity.js';
import { PIPELINE_LABEL, SCHEDULE_LABEL } from './domain/labels.js';
import { entityFromMemo } from './domain/run-metadata.js';
import type { EntityQuery } from './ports/entity-store.js';
import { ENTITY_WORKFLOWS } from './workflows/definitions.js';

/**
 * Cancel the run if it is still running; false when it has ended. Temporal accepts a cancel of a closed run and
 * does nothing, so a caller that says what it did asks first.
 */
export async function cancelIfRunning(handle: WorkflowHandle): Promise<boolean> {
  if ((await handle.describe()).status.name !== 'RUNNING') return false;
  await handle.cancel();
  return true;
}

/** The kinds whose entities are made by a workflow of their own (`<kind>-<id>`). */
export const ENTITY_WORKFLOW_KINDS = Object.keys(ENTITY_WORKFLOWS) as (keyof typeof ENTITY_WORKFLOWS)[];

/** A string literal of a visibility query. */
export const quoted = (v: string) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/** The visibility query for an entity query: kind, account, status, and the labels that are search attributes. */
export function visibilityQuery(q: EntityQuery): string {
  const kinds = q.kind ? [q.kind] : ENTITY_WORKFLOW_KINDS;
  const terms = [`DyffKind IN (${kinds.map(quoted).join(', ')})`];
  if (q.account) terms.push(`DyffAccount = ${quoted(q.account)}`);
  // A status is filtered after reading the memo: a run cut short never recorded its last status.
  const pipeline = q.labels?.[PIPELINE_LABEL];
  if (pipeline) terms.push(`DyffPipelineId = ${quoted(pipeline)}`);
  const schedule = q.labels?.[SCHEDULE_LABEL];
  if (schedule) terms.push(`DyffScheduleId = ${quoted(schedule)}`);
  return terms.join(' AND ');
}

/**
 * Entities from their runs, newest first, at most `limit` (100). A run continued as new is listed once, as its
 * latest run; a run recorded before runs kept their entity in the memo is left out (the store has it).
 */
export async function listFromRuns(temporal: Client, q: EntityQuery): Promise<Entity[]> {
  const limit = q.limit ?? 100;
  const seen = new Set<string>();
  const out: Entity[] = [];
  for await (const run of temporal.workflow.list({ query: visibilityQuery(q) })) {
    if (seen.has(run.workflowId)) continue;
    seen.add(run.workflowId);
    const entity = entityFromMemo(run.memo, run.startTime, {
      status: run.status.name,
      closeTime: run.closeTime,
    });
    if (!entity) continue;
    if (q.status && entity.status !== q.status) continue;
    if (q.labels && !Object.entries(q.labels).every(([k, v]) => entity.labels[k] === v)) continue;
    out.push(entity);
    if (out.length >= limit) break;
  }
  return out;
}
