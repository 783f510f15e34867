/**
 * What each step program (and each inference session) may receive of the worker's environment, from the step
 * catalogue's `environment` column. A step starts from nothing, never from the worker's `process.env`: the
 * configuration it needs (`configEnv`), `DYFF_JOB_NAME`, and only the worker variables listed here.
 *
 *   env = stepEnvironment('fetch-model', { config: configEnv(config), worker: process.env, placement: 'local' })
 */

import type { StepName } from './step-catalogue.js';
import { SESSION_ENTRY, STEP_CATALOGUE } from './step-catalogue.js';
import type { StepEnvironmentRule } from './step-contract.js';
import { NO_ENVIRONMENT } from './step-contract.js';

export type { StepEnvironmentRule } from './step-contract.js';

/** The programs a job or session runs: `dyffctl step <name>`, and `session` for `dyffctl serve-model`. */
export type StepProgram = StepName | 'session';

const NONE = NO_ENVIRONMENT;

/** Each program's rule, as the step catalogue declares it. */
export const STEP_ENVIRONMENT: Readonly<Record<StepProgram, StepEnvironmentRule>> = {
  ...(Object.fromEntries(
    Object.entries(STEP_CATALOGUE).map(([name, entry]) => [name, entry.environment]),
  ) as Record<StepName, StepEnvironmentRule>),
  session: SESSION_ENTRY.environment,
};

/**
 * What a local process needs to run node on this host, and how it reaches cloud storage with the worker's
 * identity (pods use their own ServiceAccount and workload identity instead, so these stay on the host).
 */
const LOCAL_RUNTIME = ['PATH', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL'] as const;
const LOCAL_STORAGE_CREDENTIALS = ['GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT'] as const;

/**
 * Certificates the worker trusts besides the system's (a TLS-inspecting proxy's CA, say), for a local process
 * that may open a TLS connection. Node reads and parses that file as it starts, whether or not the process opens
 * one: ~40 ms for a system bundle. A local step that reaches nothing but a local object store (catalogue network
 * `storage` or `none`, `objectStore: filesystem`) opens none, and starts without it. Any other step gets the file
 * as `DYFF_EXTRA_CA_CERTS` (`STEP_EXTRA_CA_CERTS`) and trusts it from its first TLS connection on
 * (`src/steps/net/extra-ca.ts`), so that it parses the file only if it opens one; a session, which is no step
 * program, gets `NODE_EXTRA_CA_CERTS` itself.
 */
const EXTRA_CA_CERTS = 'NODE_EXTRA_CA_CERTS';
/** What a step reads the worker's extra certificates from (`trustExtraCasOnFirstUse`, src/steps/net/extra-ca.ts). */
export const STEP_EXTRA_CA_CERTS = 'DYFF_EXTRA_CA_CERTS';

/** The worker's extra certificates, under the name the program reads them by, where it may open TLS. */
function extraCaCerts(program: string | undefined, input: StepEnvironmentInput): Record<string, string> {
  const file = input.worker[EXTRA_CA_CERTS];
  if (!file) return {};
  if (!isStepProgram(program) || program === 'session') return { [EXTRA_CA_CERTS]: file };
  const { network } = STEP_CATALOGUE[program];
  const opensTls =
    network === 'internet' || (network === 'storage' && input.config.DYFF_OBJECT_STORE !== 'filesystem');
  return opensTls ? { [STEP_EXTRA_CA_CERTS]: file } : {};
}

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
  const trust = input.placement === 'local' ? extraCaCerts(program, input) : {};
  return { ...env, ...trust, ...input.config };
}
