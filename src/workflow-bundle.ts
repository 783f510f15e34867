/**
 * How the workflow code is bundled, for every worker (dyffctl worker, tests, benchmarks, history recording).
 *
 * The SDK runs all workflows in one V8 context but evaluates the modules they import again for each workflow, so a
 * module's objects cost every workflow held in the worker's cache. zod and the schemas of `workflow-inputs.ts`
 * (each workflow checks its own input with them) were most of that: ~2.6 MiB of heap per pipeline of seven
 * workflows. They are instead made into one module, bundled here with esbuild, that the SDK preloads once into the
 * shared context. The SDK deep-freezes what a preloaded module exports, and zod memoizes onto its schemas as they are
 * used, so that module exports a single function and keeps zod and the schemas inside its own scope, where freezing
 * does not reach. The check itself is unchanged: the same schemas, the same messages, inside the workflow.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { BundleOptions } from '@temporalio/worker';
import { bundleWorkflowCode } from '@temporalio/worker';
import { build } from 'esbuild';
import { writeFileWhole } from './file-whole.js';

const TS = import.meta.url.endsWith('.ts');

// Beside this file: workflows/index.ts when run from src/, workflows/index.js when run from the compiled dist/.
export const WORKFLOWS_PATH = resolve(import.meta.dirname, `workflows/index${TS ? '.ts' : '.js'}`);

/** How the workflows import their input check (workflows/input.ts): the request, matched exactly (`$`). */
const INPUTS_REQUEST = '../domain/workflow-inputs.js$';
const INPUTS_SOURCE = resolve(import.meta.dirname, `domain/workflow-inputs${TS ? '.ts' : '.js'}`);
/** The name the shared module is preloaded by. */
const SHARED_INPUTS = 'dyff-workflow-inputs';

let sharedInputs: Promise<string> | undefined;

/**
 * workflow-inputs with zod and every schema it uses as one CommonJS file exporting `workflowInputProblems` only,
 * written once per content under the temp directory; returns its path.
 */
function sharedInputsFile(): Promise<string> {
  sharedInputs ??= (async () => {
    const out = await build({
      stdin: {
        contents: `export { workflowInputProblems } from ${JSON.stringify(INPUTS_SOURCE)};`,
        resolveDir: dirname(INPUTS_SOURCE),
        loader: 'ts',
      },
      bundle: true,
      format: 'cjs',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.contents;
    const dir = join(tmpdir(), 'dyff-temporal-workflows');
    const file = join(dir, `inputs-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.cjs`);
    mkdirSync(dir, { recursive: true });
    // Another worker may be bundling the same content at the same moment.
    writeFileWhole(file, code);
    return file;
  })();
  sharedInputs.catch(() => (sharedInputs = undefined));
  return sharedInputs;
}

/** What a bundle of the workflows needs beside their path: the shared input check, preloaded. */
export async function workflowBundlerOptions(): Promise<
  Required<Pick<BundleOptions, 'preloadModules' | 'webpackConfigHook'>>
> {
  const file = await sharedInputsFile();
  return {
    preloadModules: [SHARED_INPUTS],
    webpackConfigHook: (config) => ({
      ...config,
      resolve: {
        ...config.resolve,
        // The workflows' import of workflow-inputs and the preload's name both resolve to the one shared file.
        alias: { ...config.resolve?.alias, [INPUTS_REQUEST]: file, [SHARED_INPUTS]: file },
      },
    }),
  };
}

/** The workflow code bundled as every worker runs it. */
export async function bundleWorkflows(logger?: BundleOptions['logger']): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...(await workflowBundlerOptions()),
    ...(logger ? { logger } : {}),
  });
  return { code };
}
