/**
 * Activities: closures over the adapters. The worker passes `createActivities(adapters)`; workflows use
 * `proxyActivities<Activities>()`.
 */
import type { EntityStore } from '../ports/entity-store.js';
import type { JobRunner } from '../ports/job-runner.js';
import type { ObjectStore } from '../ports/object-store.js';
import { createDatasetActivities } from './datasets.js';
import { createEntityActivities } from './entities.js';
import { createStepActivities } from './run-step.js';

export interface ActivityDeps {
  entityStore: EntityStore;
  objectStore: ObjectStore;
  jobRunner: JobRunner;
}

export const createActivities = (deps: ActivityDeps) => ({
  ...createEntityActivities(deps.entityStore),
  ...createStepActivities(deps.jobRunner, deps.objectStore),
  ...createDatasetActivities(deps.objectStore),
});

export type Activities = ReturnType<typeof createActivities>;
export type { RunStepInput, RunStepOutput, StepHeartbeat } from './run-step.js';
export type { VerifiedDataset } from './datasets.js';
