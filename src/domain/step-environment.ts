/**
 * What each step program (and each inference session) may receive of the worker's environment: the seed of the
 * step catalogue's "environment" column. A step starts from nothing, never from the worker's `process.env`: the
 * configuration it needs (`configEnv`), `DYFF_JOB_NAME`, and only the worker variables listed here.
 *
 *   env = stepEnvironment('fetch-model', { config: configEnv(config), worker: process.env, placement: 'local' })
 */

/** The programs a job or session runs: `dyffctl step <name>`, and `session` for `dyffctl serve-model`. */
export type StepProgram =
  | 'fetch-data'
  | 'ingest-dataset'
  | 'fetch-model'
  | 'build-service'
  | 'evaluate'
  | 'verify-outputs'
  | 'report'
  | 'session';

export interface StepEnvironmentRule {
  /** Worker variables that are settings (no secret): passed wherever the step runs. */
  settings: readonly string[];
  /**
   * Worker variables that are credentials of this step alone. Passed to local processes; a pod gets them as
   * secret references (never as plain values in its manifest), so the Kubernetes runners leave them out here.
   */
  secrets: readonly string[];
}

const NONE: StepEnvironmentRule = { settings: [], secrets: [] };

export const STEP_ENVIRONMENT: Readonly<Record<StepProgram, StepEnvironmentRule>> = {
  'fetch-data': NONE,
  'ingest-dataset': NONE,
  // The Hub token is the one credential a user's source may use, and only this step talks to the Hub.
  'fetch-model': { settings: ['HF_ENDPOINT'], secrets: ['HF_TOKEN'] },
  'build-service': NONE,
  evaluate: NONE,
  'verify-outputs': NONE,
  report: NONE,
  session: NONE,
};

/**
 * What a local process needs to run node on this host, and how it reaches cloud storage with the worker's
 * identity (pods use their own ServiceAccount and workload identity instead, so these stay on the host).
 */
const LOCAL_RUNTIME = ['PATH', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL', 'NODE_EXTRA_CA_CERTS'] as const;
const LOCAL_STORAGE_CREDENTIALS = ['GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT'] as const;

export interface StepEnvironmentInput {
  /** The configuration as variables (`configEnv(config)`): storage, limits, sources. */
  config: Record<string, string>;
  /** The worker's environment; only the variables the rules name are read from it. */
  worker: Record<string, string | undefined>;
  placement: 'local' | 'pod';
}

export function isStepProgram(name: string | undefined): name is StepProgram {
  return name !== undefined && Object.hasOwn(STEP_ENVIRONMENT, name);
}

/** The environment for one step program; an unknown program gets the configuration alone. */
export function stepEnvironment(
  program: string | undefined,
  input: StepEnvironmentInput,
): Record<string, string> {
  const rule = isStepProgram(program) ? STEP_ENVIRONMENT[program] : NONE;
  const names =
    input.placement === 'local'
      ? [...LOCAL_RUNTIME, ...LOCAL_STORAGE_CREDENTIALS, ...rule.settings, ...rule.secrets]
      : [...rule.settings];
  const env: Record<string, string> = {};
  for (const name of names) {
    const value = input.worker[name];
    if (value !== undefined && value !== '') env[name] = value;
  }
  return { ...env, ...input.config };
}
