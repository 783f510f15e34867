import type { ModelManifest } from '../domain/artifacts.js';
import { artifactRefs } from '../domain/object-layout.js';
import type { ModelSpec } from '../domain/specs.js';
import type { EntityInput } from './entity-lifecycle.js';
import { state } from './activity-proxies.js';
import { EntityLifecycle } from './entity-lifecycle.js';
import { requireValidInput } from './input.js';

export interface ModelWorkflowResult {
  id: string;
  status: 'Ready';
  files: number;
}

/** model source → fetch job → manifest present → Ready (or Error/FetchFailed). */
export async function modelWorkflow(input: EntityInput<ModelSpec>): Promise<ModelWorkflowResult> {
  requireValidInput('modelWorkflow', input);
  const life = new EntityLifecycle('Model', input);
  await life.create();
  return life.run(async () => {
    await life.transition(['Created'], 'Admitted');
    // The Hub token the spec names, if any, goes to the fetch-model Job alone (the catalogue's `secrets`).
    await life.runJob('fetch-model', { id: input.id, spec: input.spec }, 'FetchFailed');
    const manifest = (await state.readJson(artifactRefs.modelManifest(input.id))) as
      Partial<ModelManifest> | undefined;
    const files = manifest?.files?.length ?? 0;
    await life.transition(['Admitted'], 'Ready', undefined, `${files} files`, { files });
    return { id: input.id, status: 'Ready', files };
  });
}
