import { artifactRefs, objectPath } from '../domain/object-layout.js';
import type { InferenceServiceSpec } from '../domain/specs.js';
import type { EntityInput } from './entity-lifecycle.js';
import { state } from './activity-proxies.js';
import { EntityLifecycle, StageFailure } from './entity-lifecycle.js';
import { BUILD_IMAGE_PATCH, buildServiceImage } from './image-build.js';
import { requireValidInput } from './input.js';
import { patched } from '@temporalio/workflow';

/**
 * model Ready → build job (a runnable service description) → with `spec.build`, the image built and recorded in
 * the description → Ready (or Error/BuildFailed).
 */
export async function inferenceServiceWorkflow(
  input: EntityInput<InferenceServiceSpec>,
): Promise<{ id: string; status: 'Ready' }> {
  requireValidInput('inferenceServiceWorkflow', input);
  const life = new EntityLifecycle('InferenceService', input);
  await life.create();
  return life.run(async () => {
    const modelId = input.spec.model;
    if (modelId) await life.requireReady(modelId, 'NoSuchModel');
    else if (input.spec.runner.kind === 'standalone')
      throw new StageFailure('NoSuchModel', 'spec.model: required for the standalone runner');
    await life.transition(['Created'], 'Admitted');
    await life.runJob('build-service', { id: input.id, spec: input.spec }, 'BuildFailed');
    const { build } = input.spec;
    if (build && modelId && patched(BUILD_IMAGE_PATCH))
      await buildServiceImage(life, { id: input.id, modelId, build });
    const ref = artifactRefs.serviceDescription(input.id);
    const description = await state.readJson(ref);
    if (!description) throw new StageFailure('BuildFailed', `${objectPath(ref)} was not written`);
    await life.transition(['Admitted'], 'Ready', undefined, undefined, { description });
    return { id: input.id, status: 'Ready' };
  });
}
