import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../../src/dev/dev-server.js';
import { bundleWorkflows } from '../../src/workflow-bundle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundleCode: string;
  }
}

/**
 * One real Temporal dev server (the pinned CLI) for the whole run, and one workflow bundle; each test file uses
 * its own task queue. Before them, dist/ is brought up to date (a no-op when fresh), so that the steps and
 * sessions the tests start run the compiled code that users run, not the TypeScript loader.
 */
export default async function setup(project: TestProject) {
  try {
    execFileSync(process.execPath, [resolve(import.meta.dirname, '../../scripts/build.mjs'), '--if-stale'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch {
    // A type error while editing: the steps run the sources instead (correct, slower), and only the test of the
    // compiled path fails, rather than every test.
    console.error('warning: the build of dist/ failed; steps run the TypeScript sources');
  }
  const server = await startDevServer({ port: 0 });
  const bundle = await bundleWorkflows(quietLogger);
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundleCode', bundle.code);
  return async () => {
    await server.stop();
  };
}

const noop = () => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
