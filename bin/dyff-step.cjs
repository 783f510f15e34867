#!/usr/bin/env node
// `dyffctl step …` straight from the build's step bundle (dist/cli/step.cjs) with its code cache
// (bin/code-cache.cjs): what the local job runner starts when its worker runs from dist/ (src/adapters/index.ts,
// stepCommand), so that the step runs the same build as the worker. It skips what bin/dyffctl.mjs does first on every
// start: the ES module loader and the check that dist/ matches src/, 20-30 ms of a step's start. Without a bundle (a
// build under way, or one that could not make it) or with DYFF_STEP_BUNDLE=0, it hands over to bin/dyffctl.mjs,
// which runs dist/'s modules or the sources, whichever is current. Plain CommonJS with no dependencies.
'use strict';
const { runWithCodeCache, stepBundle } = require('./code-cache.cjs');

// process.argv: node, bin/dyff-step.cjs, 'step', <name>, … — as bin/dyffctl.mjs gets it.
const bundle = stepBundle();
if (bundle) runWithCodeCache(bundle);
else import('./dyffctl.mjs');
