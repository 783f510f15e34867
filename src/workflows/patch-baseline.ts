import { patched } from '@temporalio/workflow';

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
 * Whether the run takes the new branch of a patch made before ENDING_WITH_WORK_PATCH: `patched(patchId)`, in
 * one marker.
 */
export function hasPatch(patchId: BaselinePatch): boolean {
  return patched(ENDING_WITH_WORK_PATCH) || patched(PATCH_BASELINE) || patched(patchId);
}
