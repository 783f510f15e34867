import * as z from 'zod';

/**
 * The image builder of inference services with a `build` in their spec (`builder`), and its settings
 * (`docker.builder`, `cloudbuild`). `none` builds nothing: a spec with `build` is refused. `docker` builds with the
 * local Docker engine, into that engine (what `runner: docker` sessions run); `cloudbuild` on Google Cloud Build,
 * pushed to Artifact Registry.
 */
export const BuilderSchema = z.enum(['none', 'docker', 'cloudbuild']).default('none');

/** `docker.builder`: the Docker engine's builds (`builder: docker`). */
export const DockerBuilderConfigSchema = z
  .strictObject({
    /**
     * What the Dockerfile generated for a model without one starts FROM: an image whose entrypoint is `dyffctl`
     * (it runs `serve-model --model-dir`). Unset: `docker.image`, the project image.
     */
    baseImage: z.string().min(1).optional(),
    /** The network of the build's RUN steps. @default none (a Dockerfile reaches nothing while it builds) */
    network: z.string().min(1).default('none'),
  })
  .prefault({});

export const CloudBuildConfigSchema = z
  .strictObject({
    /** The project the builds run in; required with `builder: cloudbuild`. */
    projectId: z.string().min(1).optional(),
    /** Region of the builds and of the Artifact Registry repository. @default us-central1 */
    location: z.string().min(1).default('us-central1'),
    /** Artifact Registry (docker) repository the images are pushed to. @default dyff-models */
    repository: z.string().min(1).default('dyff-models'),
    /**
     * Another Cloud Build API endpoint, e.g. `http://127.0.0.1:9090` for a local server: spoken over HTTP/JSON,
     * and without credentials when the URL is plain `http`. Unset: cloudbuild.googleapis.com with the
     * application-default credentials.
     */
    apiEndpoint: z
      .string()
      .regex(/^https?:\/\/[^/\s]+\/?$/, { error: 'expected http(s)://host[:port]' })
      .optional(),
    /** How often a running build's status is read. @default 5000 */
    pollIntervalMs: z.number().int().positive().default(5000),
  })
  .prefault({});

export const BUILDER_ENV_PATHS: Record<string, string[]> = {
  DYFF_BUILDER: ['builder'],
  DYFF_DOCKER_BUILDER_BASE_IMAGE: ['docker', 'builder', 'baseImage'],
  DYFF_DOCKER_BUILDER_NETWORK: ['docker', 'builder', 'network'],
  DYFF_CLOUDBUILD_PROJECT: ['cloudbuild', 'projectId'],
  DYFF_CLOUDBUILD_LOCATION: ['cloudbuild', 'location'],
  DYFF_CLOUDBUILD_REPOSITORY: ['cloudbuild', 'repository'],
  DYFF_CLOUDBUILD_ENDPOINT: ['cloudbuild', 'apiEndpoint'],
};

/** What the schema alone cannot say: the settings the chosen builder needs. */
export function builderConfigProblems(c: {
  builder: z.infer<typeof BuilderSchema>;
  cloudbuild: z.infer<typeof CloudBuildConfigSchema>;
  runner: string;
}): string[] {
  if (c.builder === 'cloudbuild' && !c.cloudbuild.projectId)
    return ['cloudbuild.projectId: required with builder: cloudbuild (or DYFF_CLOUDBUILD_PROJECT)'];
  if (c.builder === 'docker' && c.runner !== 'docker')
    return [
      `builder: docker builds images into the local Docker engine, which only runner: docker runs (runner is ` +
        `${c.runner}): set runner: docker (or DYFF_RUNNER=docker), or builder: cloudbuild`,
    ];
  return [];
}

/** What a spec with `build` is told when the worker has no builder. */
export const NO_BUILDER =
  'spec.build needs an image builder and this worker has builder: none: set builder: cloudbuild (with ' +
  'cloudbuild.projectId) or builder: docker (with runner: docker) in the configuration, or give a prebuilt ' +
  'spec.image';
