import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DyffError, ErrorType } from './domain/errors.js';

/**
 * Configuration, validated once into `Config`. Sources, later wins: defaults, the file `dyff.config.yaml` in the
 * data home's parent (or `DYFF_CONFIG`), then `DYFF_*` environment variables.
 */
const ConfigSchema = z.strictObject({
  /** Where the embedded backends keep their files. @default ./.dyff */
  dataHome: z.string().default('.dyff'),
  temporal: z
    .strictObject({
      /** @default localhost:7233 */
      address: z.string().default('localhost:7233'),
      namespace: z.string().default('default'),
      taskQueue: z.string().default('dyff'),
      /** @default http://localhost:8233 */
      uiUrl: z.string().default('http://localhost:8233'),
    })
    .prefault({}),
  runner: z.enum(['local', 'kubernetes']).default('local'),
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
  reaper: z
    .strictObject({
      /** How often the reaper schedule sweeps for orphans of closed workflows; 0 installs no schedule. @default 60 */
      periodSeconds: z.number().int().nonnegative().default(60),
    })
    .prefault({}),
});
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

const ENV_PATHS: Record<string, string[]> = {
  DYFF_DATA_HOME: ['dataHome'],
  DYFF_TEMPORAL_ADDRESS: ['temporal', 'address'],
  DYFF_TEMPORAL_NAMESPACE: ['temporal', 'namespace'],
  DYFF_TASK_QUEUE: ['temporal', 'taskQueue'],
  DYFF_TEMPORAL_UI_URL: ['temporal', 'uiUrl'],
  DYFF_RUNNER: ['runner'],
  DYFF_OBJECT_STORE: ['objectStore'],
  DYFF_ENTITY_STORE: ['entityStore'],
  DYFF_GCS_PROJECT: ['gcs', 'projectId'],
  DYFF_GCS_ENDPOINT: ['gcs', 'apiEndpoint'],
  DYFF_GCS_BUCKET_PREFIX: ['gcs', 'bucketPrefix'],
  DYFF_DATASTORE_PROJECT: ['datastore', 'projectId'],
  DYFF_DATASTORE_ENDPOINT: ['datastore', 'apiEndpoint'],
  DYFF_DATASTORE_NAMESPACE: ['datastore', 'namespace'],
  DYFF_K8S_NAMESPACE: ['kubernetes', 'namespace'],
  DYFF_K8S_IMAGE: ['kubernetes', 'image'],
  DYFF_KUBECONFIG: ['kubernetes', 'kubeconfig'],
  DYFF_MAX_FILE_BYTES: ['limits', 'maxFileBytes'],
  DYFF_QUOTA_CONCURRENCY: ['quota', 'concurrency'],
  DYFF_QUOTA_CHECK_SECONDS: ['quota', 'checkSeconds'],
  DYFF_REAPER_PERIOD_SECONDS: ['reaper', 'periodSeconds'],
};
const NUMERIC = new Set([
  'DYFF_MAX_FILE_BYTES',
  'DYFF_QUOTA_CONCURRENCY',
  'DYFF_QUOTA_CHECK_SECONDS',
  'DYFF_REAPER_PERIOD_SECONDS',
]);

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Bucket names per category may also come as DYFF_GCS_BUCKET_<CATEGORY>. */
function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(ENV_PATHS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(out, path, NUMERIC.has(name) ? Number(raw) : raw);
  }
  for (const [name, raw] of Object.entries(env)) {
    const m = /^DYFF_GCS_BUCKET_([A-Z]+)$/.exec(name);
    if (m && raw) setPath(out, ['gcs', 'buckets', m[1]!.toLowerCase()], raw);
  }
  return out;
}

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
    const parsed: unknown = parseYaml(readFileSync(file, 'utf8'));
    if (parsed && typeof parsed === 'object') fromFile = parsed as Record<string, unknown>;
  }
  const merged = deepMerge(deepMerge(fromFile, envOverrides(env)), overrides as Record<string, unknown>);
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new DyffError(
      ErrorType.InvalidSpec,
      `invalid configuration (${file} and DYFF_* variables)\n  ${lines.join('\n  ')}`,
    );
  }
  const config = result.data;
  config.dataHome = resolve(config.dataHome);
  return config;
}

/** The environment that hands this configuration to a step process, so it uses the same backends. */
export function configEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {
    DYFF_DATA_HOME: config.dataHome,
    DYFF_OBJECT_STORE: config.objectStore,
    DYFF_ENTITY_STORE: config.entityStore,
    DYFF_MAX_FILE_BYTES: String(config.limits.maxFileBytes),
    DYFF_DATASTORE_PROJECT: config.datastore.projectId,
    DYFF_GCS_BUCKET_PREFIX: config.gcs.bucketPrefix,
  };
  if (config.gcs.projectId) env.DYFF_GCS_PROJECT = config.gcs.projectId;
  if (config.gcs.apiEndpoint) env.DYFF_GCS_ENDPOINT = config.gcs.apiEndpoint;
  if (config.datastore.apiEndpoint) env.DYFF_DATASTORE_ENDPOINT = config.datastore.apiEndpoint;
  if (config.datastore.namespace) env.DYFF_DATASTORE_NAMESPACE = config.datastore.namespace;
  for (const [category, bucket] of Object.entries(config.gcs.buckets)) {
    env[`DYFF_GCS_BUCKET_${category.toUpperCase()}`] = bucket;
  }
  return env;
}
