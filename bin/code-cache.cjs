// Runs a CommonJS bundle with V8's code cache: the compiled code of the bundle (its top level and every function
// that ran when the cache was made) is read from `<bundle>.cache` instead of being parsed and compiled again. Node 20
// has no compile cache of its own for modules (Node 22's module.enableCompileCache, which bin/dyffctl.mjs turns on
// where it exists, does this for every module), so each `dyffctl step` would otherwise compile its ~150 modules
// anew. scripts/build.mjs makes the bundle (dist/cli/step.cjs) and then the cache, by running one step with
// DYFF_CODE_CACHE=write; at any other time the cache is only read. V8 checks the cache against the bundle's source
// and its own version and flags and ignores a cache that does not match: the bundle then compiles as any script
// does. DYFF_CODE_CACHE=report prints `code cache: accepted|rejected|absent` to stderr first (for tests and
// `bench:steps`). Plain JavaScript with no dependencies: it runs before anything else is loaded.
'use strict';
const { existsSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { basename, dirname, join } = require('node:path');
const vm = require('node:vm');

/**
 * Compiles `file` as a module's code, from its code cache where that cache is valid. Returns the script and whether
 * the cache was `accepted`, `rejected` or `absent`; with DYFF_CODE_CACHE=write, the cache is written at exit.
 */
function compileWithCodeCache(file, label) {
  const cacheFile = `${file}.cache`;
  const mode = process.env.DYFF_CODE_CACHE;
  let cachedData;
  try {
    if (mode !== 'write') cachedData = readFileSync(cacheFile);
  } catch {
    // absent: compile as usual
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  const state = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted';
  if (mode === 'report') process.stderr.write(`code cache: ${state}${label ? ` (${label})` : ''}\n`);
  if (mode === 'write') {
    // Taken at exit, so that it holds the functions the run compiled, not only the top level. Written whole under
    // another name first: a step starting meanwhile reads either no cache or a complete one.
    process.once('exit', () => {
      writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
      renameSync(`${cacheFile}.tmp`, cacheFile);
    });
  }
  return { script, state };
}

/**
 * Runs a script compiled from `file` as the main module would run: its require, module, exports and paths. Returns
 * what the module exports.
 */
function runCompiled(script, file) {
  const mod = new Module(file, null);
  mod.filename = file;
  mod.loaded = true;
  const wrapper = script.runInThisContext();
  wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dirname(file));
  return mod.exports;
}

const vendored = new Map();

/**
 * What a package the build bundled into a file of its own exports (dist/cli/vendor/node_modules/, see
 * scripts/build.mjs), the file compiled from its code cache where that cache is valid, once per process, as
 * `require` would load it.
 */
function requireVendored(file) {
  let exports = vendored.get(file);
  if (exports === undefined) {
    const { script } = compileWithCodeCache(file, `vendor/${basename(file)}`);
    exports = runCompiled(script, file);
    vendored.set(file, exports);
  }
  return exports;
}

/** Loads `file` as the main module would be, compiled from its code cache where that cache is valid. */
function runWithCodeCache(file) {
  const { script, state } = compileWithCodeCache(file);
  runCompiled(script, file);
  return state;
}

/**
 * The build's step bundle (dist/cli/step.cjs), where `dyffctl step` runs from it: undefined where the build made
 * none (a build under way, or one that could not) or DYFF_STEP_BUNDLE=0 asks for dist/'s modules. The rule both
 * launchers follow, bin/dyffctl.mjs and bin/dyff-step.cjs.
 */
function stepBundle() {
  const file = join(__dirname, '../dist/cli/step.cjs');
  return process.env.DYFF_STEP_BUNDLE !== '0' && existsSync(file) ? file : undefined;
}

module.exports = { compileWithCodeCache, requireVendored, runCompiled, runWithCodeCache, stepBundle };
