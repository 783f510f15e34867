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
import { inferenceServiceKeys, logKeys } from '../domain/object-layout.js';
import type { ServiceDescription } from '../domain/service.js';
import type { ImageBuildSpecInput } from '../domain/service-image-spec.js';
import type {
  ImageBuilder,
  ImageBuilderChoice,
  ImageBuildResult,
  ImageBuildStatus,
} from '../ports/image-builder.js';
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
  /** The image pinned (by digest, or by local image id), as recorded in the service description. */
  imageRef: string;
  /** The image's local tag, when the builder gives one. */
  tag?: string;
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
    // A model without a Dockerfile of its own gets the builder's, unless the spec named another one it must have.
    const generated = dockerfile === 'Dockerfile' ? builder.generatedDockerfile?.() : undefined;
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
            generated,
          }),
        );
        beat.stage = 'submitting';
        const source = {
          uri: store.uri('inferenceservices', key),
          open: () => store.get('inferenceservices', key),
        };
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
      const log = new BuildLog();
      const result = await builder
        .wait(buildId, input.serviceId, {
          signal: ctx.cancellationSignal,
          onUpdate: (s) => Object.assign(beat, s),
          onLog: (text) => log.add(text),
        })
        .finally(() => saveLog(store, input.serviceId, ctx.info.attempt, log))
        .catch(async (err: unknown) => {
          if (!ctx.cancellationSignal.aborted) throw err;
          if (!cancelWasRequested(ctx)) throw interrupted(ctx, `build ${buildId}`, 'the build');
          await translated(() => builder.cancel(buildId));
          throw new CancelledFailure(`build ${buildId} cancelled`);
        })
        .catch((err: unknown) => translated(() => Promise.reject(err)));
      beat.stage = 'recording';
      await translated(() => recordImage(store, input.serviceId, result));
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

/** The build's output as the builder streams it, at most LOG_LIMIT characters (the newest). */
const LOG_LIMIT = 1 << 20;
class BuildLog {
  text = '';
  add(text: string): void {
    this.text += text;
    if (this.text.length > LOG_LIMIT) this.text = this.text.slice(-LOG_LIMIT);
  }
}

/**
 * The build's output as the service's log of step `image-build`, one chunk per activity attempt (`dyffctl logs`
 * shows it with the steps' logs). A log is no reason to fail a build: a failed write is only reported.
 */
async function saveLog(store: ObjectStore, serviceId: string, attempt: number, log: BuildLog): Promise<void> {
  if (!log.text) return;
  await store
    .put('inferenceservices', logKeys.chunk(serviceId, 'image-build', attempt, 0), log.text, {
      contentType: 'text/plain; charset=utf-8',
    })
    .catch((err: unknown) => {
      Context.current().log.warn('the image build log was not saved', { error: (err as Error).message });
    });
}

/** The description the build step wrote, with the built image: what sessions of this service run. */
async function recordImage(store: ObjectStore, serviceId: string, built: ImageBuildResult): Promise<void> {
  const key = inferenceServiceKeys.description(serviceId);
  const description = JSON.parse(
    (await store.getBuffer('inferenceservices', key)).toString('utf8'),
  ) as ServiceDescription;
  const updated: ServiceDescription = {
    ...description,
    image: built.imageRef,
    ...(built.tag ? { imageTag: built.tag } : {}),
  };
  await store.put('inferenceservices', key, JSON.stringify(updated, null, 2), {
    contentType: 'application/json',
  });
}
