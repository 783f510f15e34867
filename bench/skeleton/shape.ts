import { resolve } from 'node:path';

/**
 * Activities per stage of a pipeline run, counted from the recorded histories (test/histories/*.pb): dataset
 * (create, fetch, ingest, verify), model (fetch), inference service (build), evaluation (quota slot, session,
 * evaluate, verify), report.
 */
export const PIPELINE_SHAPE = [4, 1, 1, 4, 1];

export const SKELETON_WORKFLOWS = resolve(import.meta.dirname, 'workflows.ts');
