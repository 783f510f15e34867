/**
 * The entry point of the step bundle (dist/cli/step.cjs, made by scripts/build.mjs): `dyffctl step …` as
 * bin/dyffctl.mjs runs it from a fresh build, the same command main.ts dispatches, in one file that loads with V8's
 * code cache (bin/code-cache.cjs) instead of ~150 ES modules compiled on every start.
 */
import { exitWith } from './exit.js';
import { stepMain } from './step.js';

// process.argv: node, bin/dyffctl.mjs, 'step', <name>, …
void exitWith(() => stepMain(process.argv.slice(3)));
