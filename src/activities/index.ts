/**
 * Activities: closures over the adapters. The worker passes `createActivities(adapters)`; workflows use
 * `proxyActivities<Activities>()`.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../domain/errors.js';
import type { EntityStore } from '../ports/entity-store.js';
import type { JobRunner } from '../ports/job-runner.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { SessionRunner } from '../ports/session-runner.js';
import { createBenchmarkActivities } from './benchmark-report.js';
import { createDatasetActivities } from './datasets.js';
import { createEntityActivities } from './entities.js';
import { NO_BUILDER } from '../builder-config.js';
import type { ImageBuilderChoice } from '../ports/image-builder.js';
import { createImageBuildActivities } from './image-build.js';
import { createLookupActivities } from './lookups.js';
import type { QuotaOptions } from './quota.js';
import { createQuotaActivities } from './quota.js';
import { createReaperActivities } from './reaper.js';
import { createStepActivities } from './run-step.js';
import { createSessionActivities } from './sessions.js';
import type { StepPolicy } from './step-policy.js';

export interface ActivityDeps {
  entityStore: EntityStore;
  objectStore: ObjectStore;
  jobRunner: JobRunner;
  sessionRunner?: SessionRunner;
  /** Step retries and deadline, from config. @default DEFAULT_STEP_POLICY */
  stepPolicy?: StepPolicy;
  quota?: QuotaOptions;
  /** The image builder (`builder` in config); without one, a spec with `build` is refused. */
  imageBuilder?: ImageBuilderChoice;
  /** The object store as the build step may use it for one service; @default objectStore */
  builderStore?: (serviceId: string, modelId: string) => ObjectStore;
}

export const createActivities = (deps: ActivityDeps) => {
  const quota = createQuotaActivities(deps.quota);
  const sessions = createSessionActivities(deps.sessionRunner ?? missingSessionRunner, deps.objectStore);
  return {
    ...createEntityActivities(deps.entityStore, quota.requestQuotaSlot),
    ...createStepActivities(
      deps.jobRunner,
      deps.objectStore,
      deps.entityStore,
      { releaseSlot: quota.releaseQuotaSlot, stopSession: sessions.stopSession },
      deps.stepPolicy,
    ),
    ...createDatasetActivities(deps.objectStore, deps.entityStore),
    ...createBenchmarkActivities(deps.objectStore),
    ...createLookupActivities(deps.entityStore, deps.objectStore),
    ...sessions,
    ...quota,
    ...createReaperActivities(deps.entityStore, deps.jobRunner, deps.sessionRunner ?? missingSessionRunner),
    ...createImageBuildActivities(
      deps.imageBuilder ?? { unavailable: NO_BUILDER },
      deps.builderStore ?? (() => deps.objectStore),
    ),
  };
};

const missingSessionRunner = new Proxy({} as SessionRunner, {
  get: () => () =>
    Promise.reject(
      ApplicationFailure.nonRetryable(
        'this worker has no session runner configured',
        ErrorType.NotConfigured,
      ),
    ),
});

export type Activities = ReturnType<typeof createActivities>;
export type { RunStepInput, RunStepOutput, StepHeartbeat } from './run-step.js';
export type { StepPolicy } from './step-policy.js';
export type { VerifiedDataset } from './datasets.js';
export type { AdmitRequest, Lineage, SlotRequest } from './entities.js';
export type { BuildImageInput, BuildImageOutput } from './image-build.js';
