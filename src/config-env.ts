import { delimiter } from 'node:path';
import { BUILDER_ENV_PATHS } from './builder-config.js';
import { parseCodecKeysEnv } from './codec/keys.js';
import { DOCKER_ENV_PATHS } from './docker-config.js';
import { DyffError, ErrorType } from './domain/errors.js';
import { TEMPORAL_ENV_PATHS } from './temporal-config.js';

/** The `DYFF_*` variables that each set one setting, by its path in the configuration. */
const ENV_PATHS: Record<string, string[]> = {
  DYFF_DATA_HOME: ['dataHome'],
  ...TEMPORAL_ENV_PATHS,
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
  DYFF_K8S_DEFAULT_SCRATCH: ['kubernetes', 'defaultScratch'],
  ...DOCKER_ENV_PATHS,
  DYFF_MAX_FILE_BYTES: ['limits', 'maxFileBytes'],
  DYFF_STEP_DEADLINE_SECONDS: ['limits', 'stepDeadlineSeconds'],
  DYFF_MAX_TRIES_PER_STAGE: ['retries', 'maxTriesPerStage'],
  DYFF_RETRY_BACKOFF_SECONDS: ['retries', 'backoffSeconds'],
  DYFF_TEMPORAL_UNREACHABLE_TIMEOUT_SECONDS: ['temporal', 'unreachableTimeoutSeconds'],
  DYFF_SHUTDOWN_GRACE_SECONDS: ['temporal', 'shutdownGraceSeconds'],
  DYFF_QUOTA_CONCURRENCY: ['quota', 'concurrency'],
  DYFF_QUOTA_CHECK_SECONDS: ['quota', 'checkSeconds'],
  DYFF_REAPER_PERIOD_SECONDS: ['reaper', 'periodSeconds'],
  DYFF_CLIENT_READS: ['client', 'reads'],
  ...BUILDER_ENV_PATHS,
};
const NUMERIC_ENV = new Set([
  'DYFF_MAX_FILE_BYTES',
  'DYFF_STEP_DEADLINE_SECONDS',
  'DYFF_MAX_TRIES_PER_STAGE',
  'DYFF_RETRY_BACKOFF_SECONDS',
  'DYFF_TEMPORAL_UNREACHABLE_TIMEOUT_SECONDS',
  'DYFF_SHUTDOWN_GRACE_SECONDS',
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

/**
 * The `DYFF_*` environment variables as a partial configuration (what `loadConfig` merges over the file): one
 * variable per setting, the few that take a list, a map or JSON, and bucket names per category as
 * DYFF_GCS_BUCKET_<CATEGORY>.
 */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  // Every limit reaches step processes at once, as JSON (`DYFF_LIMITS='{"maxResponseBytes": 1048576}'`);
  // the single-limit variables below win over it.
  const out: Record<string, unknown> = env.DYFF_LIMITS ? { limits: parseLimitsEnv(env.DYFF_LIMITS) } : {};
  for (const [name, path] of Object.entries(ENV_PATHS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(out, path, NUMERIC_ENV.has(name) ? Number(raw) : raw);
  }
  // Set but empty means "no roots", which is what a step on Kubernetes is handed.
  const roots = env.DYFF_LOCAL_ROOTS;
  if (roots !== undefined) setPath(out, ['sources', 'localRoots'], roots.split(delimiter).filter(Boolean));
  if (env.DYFF_TEMPORAL_TLS)
    setPath(out, ['temporal', 'tls', 'enabled'], /^(true|1|yes)$/i.test(env.DYFF_TEMPORAL_TLS));
  if (env.DYFF_ENFORCE_GRANTS)
    setPath(out, ['storage', 'enforceGrants'], /^(true|1|yes)$/i.test(env.DYFF_ENFORCE_GRANTS));
  if (env.DYFF_WITHHOLD_GRANTS)
    setPath(
      out,
      ['storage', 'withholdGrants'],
      env.DYFF_WITHHOLD_GRANTS.split(',')
        .map((g) => g.trim())
        .filter(Boolean),
    );
  // `fetch-data=40Gi,ingest-dataset=80Gi`
  if (env.DYFF_K8S_SCRATCH)
    setPath(
      out,
      ['kubernetes', 'scratch'],
      Object.fromEntries(
        env.DYFF_K8S_SCRATCH.split(',')
          .filter((p) => p.trim())
          .map((p) => p.split('=').map((x) => x.trim())),
      ),
    );
  const allow = env.DYFF_ALLOW_PRIVATE_NETWORKS;
  if (allow) setPath(out, ['sources', 'allowPrivateNetworks'], parseAllowance(allow));
  if (env.DYFF_CODEC_KEYS)
    setPath(out, ['temporal', 'codec', 'keys'], parseCodecKeysEnv(env.DYFF_CODEC_KEYS));
  for (const [name, raw] of Object.entries(env)) {
    const m = /^DYFF_GCS_BUCKET_([A-Z]+)$/.exec(name);
    if (m && raw) setPath(out, ['gcs', 'buckets', m[1]!.toLowerCase()], raw);
  }
  return out;
}

function parseLimitsEnv(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new DyffError(ErrorType.InvalidSpec, 'DYFF_LIMITS: expected a JSON object of limits');
  }
}

/** `true`/`false`, or a comma-separated list of CIDRs. */
function parseAllowance(raw: string): boolean | string[] {
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
