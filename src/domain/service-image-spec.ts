import * as z from 'zod';

/**
 * Where an InferenceService's container image comes from: a prebuilt `image`, or a `build` of a Dockerfile found
 * in the model's files. Either one, never both; without either, sessions run the project's own image.
 */

/** `registry/path/name[:tag][@sha256:<64 hex>]`; a digest pins the image, a tag alone may move. */
const IMAGE_REF =
  /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;

export const imageRef = z.string().max(512).regex(IMAGE_REF, {
  error: 'expected an image reference such as europe-docker.pkg.dev/proj/repo/name@sha256:<64 hex digits>',
});

/** A relative path that stays inside its root: no leading `/`, no `..` or empty segment. */
const insidePath = (what: string) =>
  z
    .string()
    .min(1)
    .max(1024)
    .refine((p) => !p.startsWith('/') && p.split('/').every((s) => s !== '' && s !== '..'), {
      error: `expected a relative path inside ${what} (no leading /, no .. or empty segment)`,
    });

/** Docker's build-arg names: what a Dockerfile's `ARG` may declare. */
const buildArgName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected a build-arg name' });

export const ImageBuildSpec = z.strictObject({
  /** The build context: a directory inside the model's files. @default '.' (all of them) */
  context: insidePath("the model's files").default('.'),
  /** The Dockerfile, relative to the context. @default 'Dockerfile' */
  dockerfile: insidePath('the build context').default('Dockerfile'),
  /** `--build-arg NAME=value`; values are plain text (never secrets: they stay in the image's history). */
  args: z.record(buildArgName, z.string().max(4096)).optional(),
});
export type ImageBuildSpec = z.infer<typeof ImageBuildSpec>;
export type ImageBuildSpecInput = z.input<typeof ImageBuildSpec>;

/** The spec fields this file adds, and the rules between them and the rest of the InferenceService spec. */
export const imageFields = { image: imageRef.optional(), build: ImageBuildSpec.optional() };

export function imageProblems(spec: {
  image?: string;
  build?: ImageBuildSpec;
  model?: string;
  runner: { kind: string };
}): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  if (spec.image !== undefined && spec.build !== undefined)
    out.push({ path: ['build'], message: 'give either image (prebuilt) or build, not both' });
  for (const field of ['image', 'build'] as const) {
    if (spec[field] !== undefined && spec.runner.kind !== 'standalone')
      out.push({ path: [field], message: 'only for runner standalone (a session this platform runs)' });
  }
  if (spec.build !== undefined && spec.model === undefined)
    out.push({ path: ['build'], message: "needs spec.model: the build context is in the model's files" });
  return out;
}
