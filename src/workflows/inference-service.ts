import { stepEnding } from '../domain/entity-endings.js';
import { artifactRefs, objectPath } from '../domain/object-layout.js';
import type { InferenceServiceSpec } from '../domain/specs.js';
import type { EntityInput } from './entity-lifecycle.js';
import { state } from './activity-proxies.js';
import { EntityLifecycle, StageFailure } from './entity-lifecycle.js';
import { BUILD_IMAGE_PATCH, buildServiceImage } from './image-build.js';
import { requireValidInput } from './input.js';
import { hasPatch } from './patch-baseline.js';

/**
 * model Ready → build job (a runnable service description) → with `spec.build`, the image built and recorded in
 * the description → Ready (or Error/BuildFailed).
 */
export async function inferenceServiceWorkflow(
  input: EntityInput<InferenceServiceSpec>,
): Promise<{ id: string; status: 'Ready' }> {
  requireValidInput('inferenceServiceWorkflow', input);
  const life = new EntityLifecycle('InferenceService', input, true, true);
  if (!life.compact) await life.create();
  return life.run(async () => {
    const modelId = input.spec.model;
    const noModel = !modelId && input.spec.runner.kind === 'standalone';
    if (life.compact) await life.admit(modelId ? [{ id: modelId, missing: 'NoSuchModel' }] : [], !noModel);
    else if (modelId) await life.requireReady(modelId, 'NoSuchModel');
    if (noModel) throw new StageFailure('NoSuchModel', 'spec.model: required for the standalone runner');
    if (!life.compact) await life.transition(['Created'], 'Admitted');
    const ref = artifactRefs.serviceDescription(input.id);
    const { build } = input.spec;
    const stepInput = { id: input.id, spec: input.spec };
    let description: unknown;
    let finished;
    if (life.compact) {
      // An image build rewrites the description, so it is read after the build; otherwise the step returns it.
      const building = build && modelId && hasPatch(BUILD_IMAGE_PATCH);
      const out = await life.runJob(
        'build-service',
        stepInput,
        'BuildFailed',
        building ? undefined : ref,
        true,
      );
      if (building) await buildServiceImage(life, { id: input.id, modelId, build });
      description = building ? await state.readJson(ref) : out.output;
      finished = out.finished;
    } else {
      await life.runJob('build-service', stepInput, 'BuildFailed');
      if (build && modelId && hasPatch(BUILD_IMAGE_PATCH))
        await buildServiceImage(life, { id: input.id, modelId, build });
      description = await state.readJson(ref);
    }
    const ending = stepEnding('build-service', description);
    if (!ending) throw new StageFailure('BuildFailed', `${objectPath(ref)} was not written`);
    await life.succeed(ending, finished);
    return { id: input.id, status: 'Ready' };
  });
}
