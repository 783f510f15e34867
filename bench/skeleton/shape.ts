import { resolve } from 'node:path';

/**
 * Activity tasks per stage of a pipeline run, as counted in its histories (bench:lifecycle's counts phase): dataset
 * (fetch, ingest, verify), model (fetch), inference service (build), evaluation (session, evaluate, verify),
 * report. Local activities are not in it: they are no task for the server. Runs recorded before the lean patch
 * had [4, 1, 1, 4, 1] (the dataset's record and the evaluation's quota request were activity tasks).
 */
export const PIPELINE_SHAPE = [3, 1, 1, 3, 1];

export const SKELETON_WORKFLOWS = resolve(import.meta.dirname, 'workflows.ts');
