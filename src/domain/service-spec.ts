import * as z from 'zod';
import { deniedEnvReason } from './env-denylist.js';
import { EnvValue, SecretRef } from './secrets.js';
import { imageFields, imageProblems } from './service-image-spec.js';
import { deadlineSeconds, entityId, httpUrl, k8sQuantity } from './spec-fields.js';

export const SchemaAdapter = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('TransformJSON'), configuration: z.record(z.string(), z.unknown()) }),
  z.strictObject({ kind: z.literal('ExplodeCollections'), configuration: z.record(z.string(), z.unknown()) }),
]);

/** Variables for a service's process: never a loader, runtime or platform variable (see env-denylist.ts). */
const serviceEnv = z.record(z.string(), EnvValue).superRefine((env, ctx) => {
  for (const name of Object.keys(env)) {
    const reason = deniedEnvReason(name);
    if (reason) ctx.addIssue({ code: 'custom', path: [name], message: reason });
  }
});

export const InferenceServiceFields = z.strictObject({
  model: entityId.optional(),
  runner: z.strictObject({
    kind: z.enum(['standalone', 'openai', 'http']),
    args: z.array(z.string()).optional(),
    /** The session's environment; a secret value is given as `{secretRef: {name, key}}`, never inline. */
    env: serviceEnv.optional(),
    endpoint: httpUrl.optional(),
    /** For openai/http endpoints: sent as `Authorization: Bearer`, resolved only in the evaluate step. */
    apiKey: SecretRef.optional(),
    /** GPUs for the session's pods; `type` is the node pool's accelerator, e.g. `nvidia-l4` on GKE. */
    accelerator: z
      .strictObject({
        kind: z.literal('GPU'),
        count: z.number().int().positive().max(16),
        type: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'expected an accelerator type such as nvidia-l4' })
          .optional(),
      })
      .optional(),
    /** CPU and memory for each of the session's pods: requested, and memory also the limit. */
    resources: z.strictObject({ cpu: k8sQuantity.optional(), memory: k8sQuantity.optional() }).optional(),
    /** Run the session on spot (preemptible) nodes. */
    spot: z.boolean().optional(),
  }),
  interface: z
    .strictObject({
      endpoint: z.string().default('generate'),
      inputPipeline: z.array(SchemaAdapter).optional(),
      outputPipeline: z.array(SchemaAdapter).optional(),
    })
    .optional(),
  /** For the build step; a session is bounded by the evaluation, not by this. */
  deadlineSeconds,
  /** The session's container image: a prebuilt `image`, or a `build` from the model's files (service-image-spec.ts). */
  ...imageFields,
});

/** The spec: its fields and the rules between image, build, model and runner. */
export const InferenceServiceSpec = InferenceServiceFields.superRefine((spec, ctx) => {
  for (const { path, message } of imageProblems(spec)) ctx.addIssue({ code: 'custom', path, message });
});
export type InferenceServiceSpec = z.infer<typeof InferenceServiceSpec>;

/** A pipeline's service: the spec without `model`, which the pipeline fills in with the model it makes. */
export const PipelineServiceSpec = InferenceServiceFields.omit({ model: true }).superRefine((spec, ctx) => {
  const withModel = { ...spec, model: 'the pipeline model' };
  for (const { path, message } of imageProblems(withModel)) ctx.addIssue({ code: 'custom', path, message });
});
