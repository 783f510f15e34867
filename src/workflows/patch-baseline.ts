import { patched, workflowInfo } from '@temporalio/workflow';
import { PATCH_LEVEL_MEMO } from '../domain/run-metadata.js';

/**
 * Every patch made before this one, answered by one marker. Temporal records each patch a run asks for as a marker
 * and an upsert of the TemporalChangeVersion search attribute: two history events and a visibility write per patch
 * per run (a pipeline's seven runs made 16 of each). A run recorded since this patch asks for this one first and,
 * having it, takes the new branch of every earlier patch without asking for it.
 *
 * Replay stays exact: a run recorded before it has no marker of it, so each earlier patch is asked for as it was.
 * A run that started on earlier code and goes on after an upgrade records this marker the first time it asks after
 * the upgrade, when each earlier patch would have answered yes as well (`patched` answers yes whenever the run is
 * not replaying, and Temporal hands a replaying run the markers of one workflow task at a time).
 */
export const PATCH_BASELINE = 'earlier-patches-in-one-marker';

/** The patches PATCH_BASELINE stands for. A patch made after it is asked for with `patched` itself. */
export const BASELINE_PATCHES = [
  'run-sets-its-search-attributes',
  'run-writes-only-changed-metadata',
  'bookkeeping-in-fewer-local-activities',
  'cancel-records-its-ending-first',
  'derived-dataset-waits-for-its-source',
  'inference-service-builds-its-image',
  'pipeline-runs-its-audits-after-the-report',
  'quota-queued-only-when-no-slot-is-free',
  'waiting-for-a-dependency-is-remembered',
  'step-retry-by-outcome',
  'evaluation-quota-semaphore',
  'continue-as-new-while-waiting-for-dependency',
] as const;
export type BaselinePatch = (typeof BASELINE_PATCHES)[number];

/**
 * Runs since this patch end each entity in the activity that does its last work: the step activity (or the
 * dataset's check) records the Ready or Complete status, where the run made a local activity of its own for it,
 * an activation of the worker more. The evaluation takes its service's description from the entity it was
 * admitted with, and the report reads its lineage with its admission. It is also the baseline now: it stands for
 * PATCH_BASELINE and so for every patch before it, and a run recorded since asks for it first, so that the run
 * still records one marker.
 */
export const ENDING_WITH_WORK_PATCH = 'entity-ends-in-its-last-activity';

/**
 * Whether the run was started at patch `level` or above: its starter put its PATCH_LEVEL in the run's memo
 * (`runStartMetadata`: the client, a parent run; `startMemo`: a schedule, the quota's signal-with-start). The memo
 * a run starts with is in its first history event, so replay answers as the run did, without a patch marker and
 * its TemporalChangeVersion upsert. A run continued as new starts with the same memo. Level 1 stands for
 * ENDING_WITH_WORK_PATCH, and so for every patch before it; a pipeline or benchmark run started at it also leaves
 * alone the search attributes it was started with. A run started without a level (by earlier code, or by hand)
 * asks for the patches by marker, as before. A patch made after level 1 is asked for with `patched` until a new
 * level stands for it.
 */
export function startedAtLevel(level: number): boolean {
  const given = workflowInfo().memo?.[PATCH_LEVEL_MEMO];
  return typeof given === 'number' && given >= level;
}

/** Whether the run takes ENDING_WITH_WORK_PATCH's new branch: started at level 1, or by its one marker. */
export function endsWithWork(): boolean {
  return startedAtLevel(1) || patched(ENDING_WITH_WORK_PATCH);
}

/**
 * Whether the run takes the new branch of a patch made before ENDING_WITH_WORK_PATCH: started at level 1, or
 * `patched(patchId)` in one marker.
 */
export function hasPatch(patchId: BaselinePatch): boolean {
  return endsWithWork() || patched(PATCH_BASELINE) || patched(patchId);
}
