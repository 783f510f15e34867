import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { DyffError, ErrorType } from '../domain/errors.js';
import { HAND_RUN_TRY, tryOfJobName } from '../domain/log-layout.js';
import { entityId } from '../domain/specs.js';
import { STEP_CATALOGUE, isStepName } from '../domain/step-catalogue.js';
import { stepBindings } from '../domain/grant-scope.js';
import { deniedCalls, storeFor } from '../adapters/object-store/enforce.js';
import type { ZodType } from 'zod';
import type { ObjectStore } from '../ports/object-store.js';
import { localSecrets } from '../secrets/resolver.js';
import type { RetryPolicy } from './context.js';
import type { Resolver } from './net/egress-guard.js';
import { createStepLog } from './context.js';
import { EXIT_INVALID_INPUT, EXIT_OK, EXIT_TERMINATED, errorMessage, stepExitCode } from './errors.js';
import { STEPS } from './index.js';

export interface StepDeps {
  objectStore: ObjectStore;
  config: Config;
  /** Where log lines go besides the object store. @default process.stdout */
  write?: (line: string) => void;
  /** Stops the step like SIGTERM does. */
  signal?: AbortSignal;
  retry?: RetryPolicy;
  /** How names are resolved for user-supplied URLs. @default the system resolver */
  resolver?: Resolver;
  /** The job's name, `<stage>-<id>-<try>`, whose try numbers the log chunks. @default process.env.DYFF_JOB_NAME */
  jobName?: string;
}

const ARGS = {
  id: { type: 'string' },
  spec: { type: 'string' },
  /** @default <dataHome>/work/<step name> */
  'work-dir': { type: 'string' },
} as const;

/**
 * `dyffctl step <name> --id <entityId> --spec '<json>' [--work-dir <dir>]`. Returns the exit code: 0 done,
 * 1 failed (a retry may help), 2 invalid input (spec, source or file: the user must fix it), 143 terminated.
 * The last line logged before a non-zero exit is `error: <message>` naming the field or file.
 */
export async function runStepProgram(name: string, argv: string[], deps: StepDeps): Promise<number> {
  const write = deps.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  if (!isStepName(name)) {
    write(`error: unknown step ${JSON.stringify(name)}; known steps: ${Object.keys(STEPS).join(', ')}`);
    return EXIT_INVALID_INPUT;
  }
  const step = STEPS[name];
  let args: { id?: string; spec?: string; 'work-dir'?: string } & Record<string, string | undefined>;
  try {
    // A step may take options of its own (e.g. report's --dataset); they reach it as strings.
    const options = { ...ARGS, ...step.options };
    args = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof args;
  } catch (err) {
    write(`error: ${errorMessage(err)}; usage: dyffctl step ${name} --id <entityId> --spec '<json>'`);
    return EXIT_INVALID_INPUT;
  }
  if (!args.id || !entityId.safeParse(args.id).success) {
    write(
      `error: --id: expected an entity id (32 lowercase hex digits), got ${JSON.stringify(args.id ?? '')}`,
    );
    return EXIT_INVALID_INPUT;
  }

  const givenJobName = deps.jobName ?? process.env.DYFF_JOB_NAME;
  const attempt = tryOfJobName(givenJobName, args.id);
  // With grant enforcement on, the log may write only what its grant allows before the spec is even read.
  const logStore = storeFor(deps.objectStore, deps.config, name, stepBindings(args.id, undefined));
  const log = createStepLog({
    objectStore: logStore,
    category: STEP_CATALOGUE[name].logCategory,
    id: args.id,
    step: name,
    attempt: attempt ?? HAND_RUN_TRY,
    write,
  });
  if (attempt === undefined)
    log.warn(
      `DYFF_JOB_NAME ${JSON.stringify(givenJobName)} is not <stage>-${args.id}-<try>: logging as try 0`,
    );
  const spec = parseSpec(args.spec, step.spec);
  if (!spec.ok) {
    log.error(spec.error);
    await log.close();
    return EXIT_INVALID_INPUT;
  }

  const objectStore = storeFor(deps.objectStore, deps.config, name, stepBindings(args.id, spec.value, args));
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    abort.abort(new Error(`stopped by ${signal}`));
    // The pod or process may be killed before the step has wound down: what was logged so far goes out now.
    void log.flush();
  };
  const onExternalAbort = () => abort.abort(deps.signal?.reason ?? new Error('stopped'));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  deps.signal?.addEventListener('abort', onExternalAbort, { once: true });
  let code: number;
  try {
    log.info(`${name} ${args.id}: start`);
    await step.run(
      {
        objectStore,
        log,
        limits: deps.config.limits,
        sources: {
          localRoots: deps.config.sources.localRoots,
          egress: { allow: deps.config.sources.allowPrivateNetworks, resolver: deps.resolver },
          gcs: { apiEndpoint: deps.config.gcs.apiEndpoint, projectId: deps.config.gcs.projectId },
        },
        secrets: localSecrets({ dataHome: deps.config.dataHome }),
        signal: abort.signal,
        workDir: args['work-dir'] ?? join(deps.config.dataHome, 'work', name),
        retry: deps.retry,
      },
      args.id,
      spec.value,
      args,
    );
    await log.flush();
    // A refused call the step (or its log writer) caught and went on from still fails it: grants are the contract.
    const denied = [...deniedCalls(objectStore), ...deniedCalls(logStore)];
    if (denied.length > 0) throw new DyffError(ErrorType.AccessDenied, denied[0]!, { denied });
    log.info(`${name} ${args.id}: done`);
    code = EXIT_OK;
  } catch (err) {
    if (abort.signal.aborted) {
      log.error(`${name} ${args.id}: ${errorMessage(abort.signal.reason)}`);
      code = EXIT_TERMINATED;
    } else {
      // An unexpected error's stack helps whoever debugs it; the message stays the last line either way.
      if (!(err instanceof DyffError) && err instanceof Error && err.stack) log.info(err.stack);
      log.error(oneLine(errorMessage(err)));
      code = stepExitCode(err);
    }
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    deps.signal?.removeEventListener('abort', onExternalAbort);
  }
  await log.close();
  return code;
}

type Parsed<S> = { ok: true; value: S } | { ok: false; error: string };

function parseSpec<S>(raw: string | undefined, schema: ZodType<S>): Parsed<S> {
  if (raw === undefined) return { ok: false, error: "--spec: required (the entity's spec as JSON)" };
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (err) {
    return { ok: false, error: `--spec: not valid JSON: ${errorMessage(err)}` };
  }
  const result = schema.safeParse(doc);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.map((i) => `${['spec', ...i.path.map(String)].join('.')}: ${i.message}`);
  return { ok: false, error: `invalid spec: ${issues.join('; ')}` };
}

const oneLine = (message: string) => message.trim().replace(/\s*\n\s*/g, '; ');
