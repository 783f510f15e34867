/**
 * The image build of an InferenceService with `spec.build`: one heartbeating activity that packs the build context
 * from the model's files, submits the build — or adopts the one already submitted for this (service, try), found
 * by its tags — waits with the build's status in its heartbeats, and records the pushed image (by digest) in the
 * service description. A requested cancel cancels the build; any other interruption leaves it running for the
 * next attempt to adopt.
 */
import { CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../domain/errors.js';
import { inferenceServiceKeys } from '../domain/object-layout.js';
import type { ServiceDescription } from '../domain/service.js';
import type { ImageBuildSpecInput } from '../domain/service-image-spec.js';
import type { ImageBuilder, ImageBuilderChoice, ImageBuildStatus } from '../ports/image-builder.js';
import type { ObjectStore } from '../ports/object-store.js';
import { translated } from './errors.js';
import { packBuildContext } from './source-tarball.js';
import { cancelWasRequested, heartbeatEvery, interrupted } from './step-policy.js';

export interface BuildImageInput {
  serviceId: string;
  modelId: string;
  /** The workflow's try counter for the build: with the service id, the tags that find the build again. */
  attempt: number;
  /** As given (a workflow input need not carry the schema's defaults). */
  build: ImageBuildSpecInput;
}

export interface BuildImageOutput {
  buildId: string;
  /** The pushed image pinned by digest, as recorded in the service description. */
  imageRef: string;
  /** The build was found already submitted (an earlier attempt of this try) rather than submitted now. */
  adopted: boolean;
  logUrl?: string;
}

/** The tags a build of (service, try) carries and is found by. */
export const buildTags = (serviceId: string, attempt: number) => ({
  'dyff-entity': serviceId,
  'dyff-try': String(attempt),
});

export const createImageBuildActivities = (
  choice: ImageBuilderChoice,
  /** The object store under the build step's grants for this service (read the model, write the service). */
  storeFor: (serviceId: string, modelId: string) => ObjectStore,
) => ({
  async buildImage(input: BuildImageInput): Promise<BuildImageOutput> {
    const builder = available(choice);
    const dockerfile = input.build.dockerfile ?? 'Dockerfile';
    const ctx = Context.current();
    const store = storeFor(input.serviceId, input.modelId);
    const beat: Partial<ImageBuildStatus> & { stage: string } = { stage: 'finding' };
    const stopBeating = heartbeatEvery(ctx, () => beat);
    try {
      const tags = buildTags(input.serviceId, input.attempt);
      let found = await translated(() => builder.find(tags));
      const adopted = found !== undefined;
      if (!found) {
        beat.stage = 'packing';
        const { key } = await translated(() =>
          packBuildContext(store, {
            serviceId: input.serviceId,
            modelId: input.modelId,
            context: input.build.context ?? '.',
            dockerfile,
          }),
        );
        beat.stage = 'submitting';
        const source = gcsSource(store.uri('inferenceservices', key));
        found = await translated(() =>
          builder.submit({
            serviceId: input.serviceId,
            source,
            dockerfile,
            buildArgs: input.build.args,
            tags,
          }),
        );
      }
      Object.assign(beat, { stage: 'building', ...found });
      const buildId = found.buildId;
      const result = await builder
        .wait(buildId, input.serviceId, {
          signal: ctx.cancellationSignal,
          onUpdate: (s) => Object.assign(beat, s),
        })
        .catch(async (err: unknown) => {
          if (!ctx.cancellationSignal.aborted) throw err;
          if (!cancelWasRequested(ctx)) throw interrupted(ctx, `build ${buildId}`, 'the build');
          await translated(() => builder.cancel(buildId));
          throw new CancelledFailure(`build ${buildId} cancelled`);
        })
        .catch((err: unknown) => translated(() => Promise.reject(err)));
      beat.stage = 'recording';
      await translated(() => recordImage(store, input.serviceId, result.imageRef));
      return { ...result, adopted };
    } finally {
      stopBeating();
    }
  },

  /** Cancel the build of (service, try) if one was submitted: the workflow's cleanup after a cancel. */
  async cancelImageBuild(input: { serviceId: string; attempt: number }): Promise<void> {
    if ('unavailable' in choice) return;
    const found = await translated(() => choice.find(buildTags(input.serviceId, input.attempt)));
    if (found) await translated(() => choice.cancel(found.buildId));
  },
});

function available(choice: ImageBuilderChoice): ImageBuilder {
  if ('unavailable' in choice)
    throw ApplicationFailure.nonRetryable(choice.unavailable, ErrorType.NotConfigured);
  return choice;
}

/** Cloud Build reads its source from GCS: the tarball's `gs://bucket/key`. */
function gcsSource(uri: string): { bucket: string; object: string } {
  const m = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m)
    throw ApplicationFailure.nonRetryable(
      `the image builder reads the build context from a GCS bucket, and this worker's object store keeps it at ` +
        `${uri}: set objectStore: gcs in the configuration`,
      ErrorType.NotConfigured,
    );
  return { bucket: m[1]!, object: m[2]! };
}

/** The description the build step wrote, with the built image: what sessions of this service run. */
async function recordImage(store: ObjectStore, serviceId: string, imageRef: string): Promise<void> {
  const key = inferenceServiceKeys.description(serviceId);
  const description = JSON.parse(
    (await store.getBuffer('inferenceservices', key)).toString('utf8'),
  ) as ServiceDescription;
  const updated: ServiceDescription = { ...description, image: imageRef };
  await store.put('inferenceservices', key, JSON.stringify(updated, null, 2), {
    contentType: 'application/json',
  });
}
