import type { ModelManifest } from '../domain/artifacts.js';
import { stepEnding } from '../domain/entity-endings.js';
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
  const life = new EntityLifecycle('Model', input, true, true);
  if (!life.compact) await life.create();
  return life.run(async () => {
    if (life.compact) await life.admit([], true);
    else await life.transition(['Created'], 'Admitted');
    const ref = artifactRefs.modelManifest(input.id);
    // The Hub token the spec names, if any, goes to the fetch-model Job alone (the catalogue's `secrets`).
    const out = await life.runJob(
      'fetch-model',
      { id: input.id, spec: input.spec },
      'FetchFailed',
      ref,
      true,
    );
    const manifest = (life.compact ? out.output : await state.readJson(ref)) as
      Partial<ModelManifest> | undefined;
    await life.succeed(stepEnding('fetch-model', manifest), out.finished);
    return { id: input.id, status: 'Ready', files: manifest?.files?.length ?? 0 };
  });
}
