/**
 * The entry point of the step bundle (dist/cli/step.cjs, made by scripts/build.mjs): `dyffctl step …` as
 * bin/dyff-step.cjs (what the local runner of a worker running from dist/ starts) and bin/dyffctl.mjs (from a fresh
 * build) run it, the same command main.ts dispatches, in one file that loads with V8's code cache
 * (bin/code-cache.cjs) instead of ~150 ES modules compiled on every start.
 */
import { exitWith } from './exit.js';
import { stepMain } from './step.js';

// process.argv: node, bin/dyffctl.mjs (or bin/dyff-step.cjs), 'step', <name>, …
void exitWith(() => stepMain(process.argv.slice(3)));
