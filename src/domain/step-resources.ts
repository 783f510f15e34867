import * as z from 'zod';
import { k8sQuantity } from './specs.js';
import type { StepResourcesSpec } from './specs.js';
import { STEP_CATALOGUE, STEP_NAMES, isStepName } from './step-catalogue.js';

/**
 * What a step's pod gets, from three sources, later wins:
 *
 *   the catalogue's defaults (cpu, memory, scratch)
 *   ← the configuration's scratch (`kubernetes.defaultScratch`, then `kubernetes.scratch.<step>`)
 *   ← the spec's cpu and memory (`DatasetSpec.resources`, `ModelSpec.resources`)
 *
 * The workflow hands on only the spec's part (and only when it sets one, so recorded histories keep their
 * activity input); the Kubernetes runner applies the rest on the worker, where the configuration lives.
 */

/** The `/tmp` of a program outside the catalogue (test programs): what every Job had before per-step scratch. */
export const FALLBACK_SCRATCH = '1Gi';

/**
 * The inference session's `/tmp`: the model's files are copied there before the server starts (`serve-model`), so
 * it holds the largest model a deployment serves; tens of GB for today's open models.
 */
export const SESSION_SCRATCH = '50Gi';

/** The configuration's part: scratch per catalogue step (and `session`), one size for every one not named. */
export const ScratchSettingsSchema = z.strictObject({
  scratch: z.partialRecord(z.enum([...STEP_NAMES, 'session']), k8sQuantity).optional(),
  defaultScratch: k8sQuantity.optional(),
});
export type ScratchSettings = z.input<typeof ScratchSettingsSchema>;

/** A pod's resources after the merge; cpu and memory are absent only for a program outside the catalogue. */
export interface ResolvedResources {
  cpu?: string;
  memory?: string;
  scratch: string;
}

/** Validate scratch settings given in code (a runner built without `loadConfig`); errors name the key. */
export function parseScratchSettings(
  input: ScratchSettings | undefined,
  where = 'kubernetes',
): ScratchSettings {
  const result = ScratchSettingsSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`);
  throw new Error(`invalid scratch settings\n  ${lines.join('\n  ')}`);
}

/** The resources of one run of `program` (the first step argument). */
export function resolveStepResources(
  program: string | undefined,
  settings: ScratchSettings = {},
  spec: StepResourcesSpec = {},
): ResolvedResources {
  const defaults = isStepName(program) ? STEP_CATALOGUE[program].resources : undefined;
  const configured = isStepName(program) ? settings.scratch?.[program] : undefined;
  const cpu = spec.cpu ?? defaults?.cpu;
  const memory = spec.memory ?? defaults?.memory;
  return {
    ...(cpu ? { cpu } : {}),
    ...(memory ? { memory } : {}),
    scratch: configured ?? settings.defaultScratch ?? defaults?.scratch ?? FALLBACK_SCRATCH,
  };
}

/** The session's scratch: `kubernetes.scratch.session`, else `kubernetes.defaultScratch`, else SESSION_SCRATCH. */
export function resolveSessionScratch(settings: ScratchSettings = {}): string {
  return settings.scratch?.session ?? settings.defaultScratch ?? SESSION_SCRATCH;
}
