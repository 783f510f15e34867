#!/usr/bin/env node
// Runs the compiled JavaScript (dist/) when it was built from the sources now in src/, and the TypeScript sources
// through the tsx loader otherwise: a fresh clone or an edited file never runs stale code, and a built tree starts
// each step in a fraction of the time (no loader, no compiling on the fly; `dyffctl step` from one bundled file with
// V8's code cache, bin/code-cache.cjs). bin/build-stamp.mjs says how freshness is judged; `npm run build` builds;
// `dyffctl version` says which runs.
import module, { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { distState } from './build-stamp.mjs';

// Node 22+ can keep compiled code on disk (under the temp dir) between starts; Node 20 has no such cache.
module.enableCompileCache?.();
if (distState(fileURLToPath(new URL('..', import.meta.url))).fresh) {
  // A job's step, the command started most often, from its one-file bundle with V8's code cache (bin/code-cache.cjs);
  // DYFF_STEP_BUNDLE=0 runs it from dist/'s modules instead, as every other command runs.
  const loader = process.argv[2] === 'step' ? createRequire(import.meta.url)('./code-cache.cjs') : undefined;
  const bundle = loader?.stepBundle();
  if (bundle) loader.runWithCodeCache(bundle);
  else await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
