import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import type { ImageBuildSpecInput } from '../domain/service-image-spec.js';
import { imageBuildCancels, imageBuilds } from './activity-proxies.js';
import type { EntityLifecycle } from './entity-lifecycle.js';
import { StageFailure } from './entity-lifecycle.js';

/** Runs recorded before this patch had no image build: a spec with `build` was not accepted then. */
export const BUILD_IMAGE_PATCH = 'inference-service-builds-its-image';

/** The try of the build: one per run today; with the service id it tags the build so a retry can adopt it. */
const BUILD_TRY = 1;

/**
 * Build the service's image (after the build step wrote its description): the activity records the pushed image
 * in the description. A failed build ends the service with BuildFailed; a cancel cancels the build, also when no
 * attempt of the activity is running to notice it.
 */
export async function buildServiceImage(
  life: EntityLifecycle,
  input: { id: string; modelId: string; build: ImageBuildSpecInput },
): Promise<string> {
  // The build step's job has ended: a cancel from here on has a build to stop, not a job.
  Object.assign(life.view, { stage: 'image-build', jobName: undefined });
  try {
    // The activity's line in the UI says what it builds and which try: `image build of inferenceservice-<id>, try 1`.
    const summary = `image build of inferenceservice-${input.id}, try ${BUILD_TRY}`;
    const out = await imageBuilds.buildImage.executeWithOptions({ summary }, [
      { serviceId: input.id, modelId: input.modelId, attempt: BUILD_TRY, build: input.build },
    ]);
    return out.imageRef;
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() =>
        imageBuildCancels.cancelImageBuild({ serviceId: input.id, attempt: BUILD_TRY }),
      );
      throw err;
    }
    const cause = err instanceof ActivityFailure ? err.cause : err;
    if (cause instanceof ApplicationFailure)
      throw new StageFailure('BuildFailed', `image build failed: ${cause.message}`);
    throw err;
  }
}
