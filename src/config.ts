import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, resolve } from 'node:path';
import type * as Yaml from 'yaml';
import * as z from 'zod';
import { cidrProblem } from './domain/egress.js';
import { envOverrides } from './config-env.js';
import { TemporalConfigSchema } from './temporal-config.js';
import { BuilderSchema, CloudBuildConfigSchema, builderConfigProblems } from './builder-config.js';
import { DockerConfigSchema } from './docker-config.js';
import { DyffError, ErrorType } from './domain/errors.js';
import { withheldGrantProblem } from './domain/enforced-grants.js';
import { ScratchSettingsSchema } from './domain/step-resources.js';

/**
 * Configuration, validated once into `Config`. Sources, later wins: defaults, the file `dyff.config.yaml` in the
 * data home's parent (or `DYFF_CONFIG`), then `DYFF_*` environment variables.
 */
const ConfigSchema = z.strictObject({
  /** Where the embedded backends keep their files. @default ./.dyff */
  dataHome: z.string().default('.dyff'),
  temporal: TemporalConfigSchema,
  runner: z.enum(['local', 'kubernetes', 'docker']).default('local'),
  objectStore: z.enum(['filesystem', 'gcs']).default('filesystem'),
  entityStore: z.enum(['sqlite', 'datastore']).default('sqlite'),
  gcs: z
    .strictObject({
      projectId: z.string().optional(),
      /** e.g. http://127.0.0.1:4443 for fake-gcs-server. */
      apiEndpoint: z.string().optional(),
      /** Bucket name per category; see `dyffctl buckets create`. */
      buckets: z.record(z.string(), z.string()).default({}),
      bucketPrefix: z.string().default('dyff'),
    })
    .prefault({}),
  datastore: z
    .strictObject({
      projectId: z.string().default('dyff-local'),
      /** e.g. 127.0.0.1:8081 for the emulator. */
      apiEndpoint: z.string().optional(),
      namespace: z.string().optional(),
    })
    .prefault({}),
  kubernetes: z
    .strictObject({
      namespace: z.string().default('dyff'),
      /** The image holding the worker and every step. */
      image: z.string().default('dyff-temporal:latest'),
      /** A kubeconfig path; in-cluster config when unset. */
      kubeconfig: z.string().optional(),
      /** `/tmp` (ephemeral storage) per step name or `session`, and for all not named; see docs/kubernetes.md. */
      ...ScratchSettingsSchema.shape,
    })
    .prefault({}),
  /** `runner: docker`: steps and sessions as containers of a local Docker engine; see docs/docker.md. */
  docker: DockerConfigSchema,
  sources: z
    .strictObject({
      /**
       * Directories a `local` source may read from (resolved with realpath; nothing outside them, and never
       * /proc, /sys or device files). @default the current directory and the data home with `runner: local`,
       * none with `runner: kubernetes`
       */
      localRoots: z.array(z.string().min(1)).optional(),
      /**
       * Whether fetches and service endpoints may reach loopback, link-local and private addresses: `true` for all
       * of them, or a list of CIDRs (e.g. an internal mirror). @default false
       */
      allowPrivateNetworks: z
        .union([
          z.boolean(),
          z.array(z.string().superRefine((c, ctx) => void (cidrProblem(c) && ctx.addIssue(cidrProblem(c)!)))),
        ])
        .default(false),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** Largest file a fetch step accepts, in bytes. @default 10 GiB */
      maxFileBytes: z
        .number()
        .int()
        .positive()
        .default(10 * 1024 ** 3),
      /** Largest response body the evaluation client reads from a service, in bytes. @default 16 MiB */
      maxResponseBytes: z
        .number()
        .int()
        .positive()
        .default(16 * 1024 ** 2),
      /** Largest `replications × workersPerReplica` (requests in flight) of an evaluation. @default 256 */
      maxConcurrentRequests: z.number().int().positive().default(256),
      /** Most distinct labels (true and predicted) a classification report computes over. @default 1000 */
      maxReportLabels: z.number().int().positive().default(1000),
      /** Longest user regex (`labelPattern`) or glob (`include`, allow/ignore patterns), in characters. @default 256 */
      maxPatternLength: z.number().int().positive().default(256),
      /** DuckDB's memory limit in ingest and evaluation (a DuckDB size, e.g. `2GB`). @default 2GB */
      duckdbMemoryLimit: z
        .string()
        .regex(/^\d+(\.\d+)?\s*[KMGT]i?B$/i, { error: 'expected a size like 2GB' })
        .default('2GB'),
      /** DuckDB's spill space in ingest and evaluation. @default 20GB */
      duckdbMaxTempSize: z
        .string()
        .regex(/^\d+(\.\d+)?\s*[KMGT]i?B$/i, { error: 'expected a size like 20GB' })
        .default('20GB'),
      /** A step's job is stopped after this long (Kubernetes `activeDeadlineSeconds`); a new try follows. @default 6 h */
      stepDeadlineSeconds: z
        .number()
        .int()
        .positive()
        .default(6 * 3600),
    })
    .prefault({}),
  retries: z
    .strictObject({
      /** Tries of one stage whose job ended in a way a new try can fix (lost, signal, OOM, preempted…). @default 3 */
      maxTriesPerStage: z.number().int().min(1).default(3),
      /** Wait before the second try; doubled for each further one. @default 5 */
      backoffSeconds: z.number().nonnegative().default(5),
    })
    .prefault({}),
  quota: z
    .strictObject({
      /** Evaluations an account may have Admitted at once, when the evaluation (or pipeline) names none. @default 4 */
      concurrency: z.number().int().positive().default(4),
      /** How often the quota semaphore checks that its holders' workflows still run. @default 60 */
      checkSeconds: z.number().positive().default(60),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /**
       * Every object-store call of a step, the session and the worker is checked against the caller's grants in the
       * step catalogue, and refused outside them (what GCS IAM does in production). Tests run with it on. @default false
       */
      enforceGrants: z.boolean().default(false),
      /** Grants taken away from the catalogue while enforcing, `<step|session|dyff-worker>:<category>:<prefix>`. */
      withholdGrants: z
        .array(
          z
            .string()
            .superRefine(
              (g, ctx) => void (withheldGrantProblem(g) && ctx.addIssue(withheldGrantProblem(g)!)),
            ),
        )
        .default([]),
    })
    .prefault({}),
  client: z
    .strictObject({
      /**
       * Where `DyffClient` and `dyffctl get/list/wait` read entities: the entity store (falling back to Temporal
       * for an entity it does not have, or when it cannot be opened), or Temporal alone (a script with nothing but
       * Temporal access). @default store
       */
      reads: z.enum(['store', 'temporal']).default('store'),
    })
    .prefault({}),
  /** The image builder for services with a `build` (builder-config.ts). @default none */
  builder: BuilderSchema,
  cloudbuild: CloudBuildConfigSchema,
  reaper: z
    .strictObject({
      /** How often the reaper schedule sweeps for orphans of closed workflows; 0 installs no schedule. @default 60 */
      periodSeconds: z.number().int().nonnegative().default(60),
    })
    .prefault({}),
});
export type Config = Omit<z.infer<typeof ConfigSchema>, 'sources'> & {
  sources: { localRoots: string[]; allowPrivateNetworks: boolean | string[] };
};
export type Limits = Config['limits'];
export type ConfigInput = z.input<typeof ConfigSchema>;

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object'
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.DYFF_CONFIG ?? 'dyff.config.yaml');
}

/** Validate config input; errors name the field (`temporal.address: …`) and the source. */
export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const file = configFilePath(env);
  let fromFile: Record<string, unknown> = {};
  if (existsSync(file)) {
    // Loaded only when there is a file to parse: a step, configured by variables, starts without it.
    const { parse } = createRequire(import.meta.url)('yaml') as typeof Yaml;
    const parsed: unknown = parse(readFileSync(file, 'utf8'));
    if (parsed && typeof parsed === 'object') fromFile = parsed as Record<string, unknown>;
  }
  const merged = deepMerge(deepMerge(fromFile, envOverrides(env)), overrides as Record<string, unknown>);
  const result = ConfigSchema.safeParse(merged);
  const problems = result.success ? builderConfigProblems(result.data) : [];
  if (!result.success || problems.length) {
    const lines = result.success
      ? problems
      : result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new DyffError(
      ErrorType.InvalidSpec,
      `invalid configuration (${file} and DYFF_* variables)\n  ${lines.join('\n  ')}`,
    );
  }
  const dataHome = resolve(result.data.dataHome);
  const { localRoots, allowPrivateNetworks } = result.data.sources;
  const roots = localRoots ?? (result.data.runner === 'local' ? [process.cwd(), dataHome] : []);
  return {
    ...result.data,
    dataHome,
    sources: { localRoots: roots.map((r) => resolve(r)), allowPrivateNetworks },
  };
}

/** The environment that hands this configuration to a step process, so it uses the same backends. */
export function configEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {
    DYFF_DATA_HOME: config.dataHome,
    DYFF_OBJECT_STORE: config.objectStore,
    DYFF_ENTITY_STORE: config.entityStore,
    DYFF_MAX_FILE_BYTES: String(config.limits.maxFileBytes),
    DYFF_LIMITS: JSON.stringify(config.limits),
    DYFF_DATASTORE_PROJECT: config.datastore.projectId,
    DYFF_GCS_BUCKET_PREFIX: config.gcs.bucketPrefix,
    DYFF_LOCAL_ROOTS: config.sources.localRoots.join(delimiter),
    DYFF_ALLOW_PRIVATE_NETWORKS: allowanceText(config.sources.allowPrivateNetworks),
    DYFF_ENFORCE_GRANTS: String(config.storage.enforceGrants),
  };
  if (config.storage.withholdGrants.length)
    env.DYFF_WITHHOLD_GRANTS = config.storage.withholdGrants.join(',');
  if (config.gcs.projectId) env.DYFF_GCS_PROJECT = config.gcs.projectId;
  if (config.gcs.apiEndpoint) env.DYFF_GCS_ENDPOINT = config.gcs.apiEndpoint;
  if (config.datastore.apiEndpoint) env.DYFF_DATASTORE_ENDPOINT = config.datastore.apiEndpoint;
  if (config.datastore.namespace) env.DYFF_DATASTORE_NAMESPACE = config.datastore.namespace;
  for (const [category, bucket] of Object.entries(config.gcs.buckets)) {
    env[`DYFF_GCS_BUCKET_${category.toUpperCase()}`] = bucket;
  }
  return env;
}

const allowanceText = (a: boolean | string[]) =>
  typeof a === 'boolean' ? String(a) : a.join(',') || 'false';
