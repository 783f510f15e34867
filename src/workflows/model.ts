import type { ModelSpec } from '../domain/specs.js';
import type { EntityInput } from './entity-lifecycle.js';
import { EntityLifecycle, state } from './entity-lifecycle.js';
import { requireValidInput } from './input.js';

export interface ModelWorkflowResult {
  id: string;
  status: 'Ready';
  files: number;
}

/** model source → fetch job → manifest present → Ready (or Error/FetchFailed). */
export async function modelWorkflow(input: EntityInput<ModelSpec>): Promise<ModelWorkflowResult> {
  requireValidInput('modelWorkflow', input);
  const life = new EntityLifecycle(input.id, 'models', 'Error');
  life.stepDeadlineSeconds = input.spec.deadlineSeconds;
  await life.create('Model', input);
  return life.run(async () => {
    await life.transition(['Created'], 'Admitted');
    await life.runStep(
      'fetch',
      ['fetch-model', '--id', input.id, '--spec', JSON.stringify(input.spec)],
      'FetchFailed',
      {
        serviceAccount: 'model-fetcher',
        ...(hubToken(input.spec) ? { secrets: [hubToken(input.spec)!] } : {}),
      },
    );
    const manifest = (await state.readJson({ category: 'models', key: `${input.id}/manifest.json` })) as
      { files?: unknown[] } | undefined;
    const files = manifest?.files?.length ?? 0;
    await life.transition(['Admitted'], 'Ready', undefined, `${files} files`, { files });
    return { id: input.id, status: 'Ready', files };
  });
}

/** The Hub token the spec names, if any: the fetch-model Job is the one pod granted it. */
const hubToken = (spec: ModelSpec) => (spec.source.kind === 'huggingFaceHub' ? spec.source.token : undefined);
