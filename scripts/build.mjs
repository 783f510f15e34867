#!/usr/bin/env node
// `npm run build`: compile src/ to dist/ (tsconfig.build.json) and stamp the result with the fingerprint of the
// sources it was compiled from (bin/build-stamp.mjs), which is what lets bin/dyffctl.mjs run dist/ instead of the
// TypeScript loader. With --if-stale it does nothing when dist/ is fresh (the install and the test setup call it
// that way; tsc takes a while on two cores). One build at a time per checkout: a second caller waits for the first
// and then finds dist/ fresh.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP, distState, sourceFingerprint } from '../bin/build-stamp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const lock = join(root, 'dist', '.building');
const STEP_BUNDLE = join(dist, 'cli', 'step.cjs');
const VENDOR = join(dist, 'cli', 'vendor');
/**
 * Where the vendored files go, below VENDOR: a directory named node_modules, because Node judges whether code is a
 * dependency's by whether its file's path has a `node_modules` directory in it. A dependency's use of a deprecated
 * API prints nothing (DEP0040, the `punycode` module, on Node 21+; DEP0169, `url.parse()`, on Node 24+: both used
 * by the Cloud Storage client's HTTP stack); the application's own code gets a warning in every step's log.
 */
const VENDOR_MODULES = join(VENDOR, 'node_modules');
const CODE_CACHE = join(root, 'bin', 'code-cache.cjs');

/**
 * Packages a step loads whole on every start of its kind (DuckDB's JavaScript API for ingest, evaluate, verify and
 * report; undici for evaluate; the Cloud Storage client for every step on a bucket), each bundled by esbuild into a
 * file of its own under dist/cli/vendor/node_modules/ with a code cache of its own, and loaded from there by the
 * step bundle (bin/code-cache.cjs, requireVendored) only when a step imports it. From node_modules Node finds,
 * reads and compiles each of their 100-200 modules one by one: in a bare process 60 ms for DuckDB's API with its
 * native binding, 48 ms for undici and 80-100 ms for the Cloud Storage client, against 25, 18 and 32-35 ms from the
 * vendored file and its cache. Inside the step bundle itself they would grow it several times over, and with it the
 * start of every step, whether it uses them or not.
 */
const VENDORED = {
  '@duckdb/node-api': 'duckdb-node-api.cjs',
  undici: 'undici.cjs',
  '@google-cloud/storage': 'google-cloud-storage.cjs',
};

/** Build dist/ unless (with ifStale) it is fresh. Throws when tsc fails; dist/ then has no stamp. */
export async function build({ ifStale = false, log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  if (ifStale && distState(root).fresh) return false;
  await acquire();
  try {
    const state = distState(root);
    if (ifStale && state.fresh) return false; // built by the caller we waited for
    log(`building dist/ (${state.why ?? 'requested'}): tsc -p tsconfig.build.json…`);
    const sources = sourceFingerprint(root);
    // Unstamped while tsc writes: a step that starts meanwhile runs the sources, never a half-written tree.
    rmSync(join(dist, STAMP), { force: true });
    removeStepBundle();
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    // Steps run from dist/'s modules where the bundle could not be made: slower to start, as before it existed.
    const bundled = await bundleStep(log).catch((err) => {
      removeStepBundle();
      log(`no step bundle (steps run from dist/'s modules): ${err.message}`);
      return false;
    });
    writeFileSync(join(dist, STAMP), JSON.stringify({ sources, builtAt: new Date().toISOString() }));
    if (bundled) warmStep(log);
    return true;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** V8 matches a code cache to its script by the script's length, not its text: a cache outlives no bundle. */
function removeStepBundle() {
  for (const f of [STEP_BUNDLE, `${STEP_BUNDLE}.cache`]) rmSync(f, { force: true });
  rmSync(VENDOR, { recursive: true, force: true });
}

/**
 * `dyffctl step`, the command every job starts, as one CommonJS file (dist/cli/step.cjs) bundled by esbuild from the
 * compiled dist/cli/step-entry.js, with zod inside it, the packages in VENDORED each from its own file (built here
 * too) and every other package loaded from node_modules as usual. One file is what V8's code cache works on
 * (bin/code-cache.cjs); the step programs come along, each still loaded only when its step runs. Returns false where
 * there is no step entry (a tree without the step programs).
 */
async function bundleStep(log) {
  const entry = join(dist, 'cli', 'step-entry.js');
  if (!existsSync(entry)) return false;
  const { build: esbuild } = await import('esbuild');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const external = Object.keys(pkg.dependencies ?? {})
    .filter((name) => name !== 'zod' && !(name in VENDORED))
    .flatMap((name) => [name, `${name}/*`]);
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    // import() of a package becomes require(): a script run from a code cache has no loader for import().
    supported: { 'dynamic-import': false },
    // Without whitespace and comments: a quarter smaller, so quicker to read, and ASCII only (comments kept as
    // written would make V8 hold the whole source as two-byte text). Names are kept as written (esbuild renames only
    // where two modules' names collide), so a stack trace still names its functions; DYFF_STEP_BUNDLE=0 runs the
    // step from dist/'s modules, with their lines.
    minifyWhitespace: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
  await esbuild({
    ...common,
    entryPoints: [entry],
    outfile: STEP_BUNDLE,
    external,
    plugins: [vendored],
    // The bundle sits in dist/cli/, as deep as every module it holds, so paths made from a module's own location
    // (import.meta.dirname, import.meta.url) land where they did.
    define: { 'import.meta.dirname': '__dirname', 'import.meta.url': '__import_meta_url' },
    banner: { js: "const __import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  });
  checkBundle(STEP_BUNDLE, log, 'bundled dyffctl step');
  for (const [name, file] of Object.entries(VENDORED)) {
    const outfile = join(VENDOR_MODULES, file);
    await esbuild({
      ...common,
      stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: root },
      outfile,
      // DuckDB's native binding (and its platform package) is loaded from node_modules.
      external: ['@duckdb/node-bindings', '@duckdb/node-bindings/*'],
    });
    checkBundle(outfile, log, `bundled ${name}`);
    warmVendored(outfile, log);
  }
  return true;
}

/**
 * The code cache of a vendored file, from a process that loads it: its module bodies, what a step's start runs of
 * it. Without it the file still loads, compiling as it does; so a failure here is reported, not fatal.
 */
function warmVendored(file, log) {
  try {
    execFileSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(CODE_CACHE)}).requireVendored(${JSON.stringify(file)})`],
      {
        env: { PATH: process.env.PATH ?? '', DYFF_CODE_CACHE: 'write' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
  } catch (err) {
    log(`no code cache for ${file}: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/**
 * In the step bundle, each package in VENDORED is its vendored file, loaded through bin/code-cache.cjs, which the
 * launchers have loaded already (paths relative to dist/cli/, where the bundle is).
 */
const vendored = {
  name: 'vendored',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(VENDORED).map(escapeRegExp).join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'vendored' }));
    b.onResolve({ filter: /.*/, namespace: 'vendored' }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'vendored' }, (args) => ({
      contents: `module.exports = require('../../bin/code-cache.cjs').requireVendored(
        require('node:path').join(__dirname, 'vendor', 'node_modules', ${JSON.stringify(VENDORED[args.path])}));`,
      loader: 'js',
    }));
  },
};

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function checkBundle(file, log, what) {
  const text = readFileSync(file, 'utf8');
  if (/\bimport\(\s*["'`]/.test(text)) throw new Error(`${file}: an import() was left in the bundle`);
  log(`${what}: ${file} (${(text.length / 1024).toFixed(0)} KiB)`);
}

/**
 * Makes the bundle's code cache (dist/cli/step.cjs.cache) by running one real step through bin/dyffctl.mjs, as a job
 * would, on a scratch data home: the cache then holds every function a step's start compiles. Without it a step
 * still runs, only compiling its code as it starts; so a failure here is reported, not fatal.
 */
function warmStep(log) {
  const scratch = mkdtempSync(join(tmpdir(), 'dyff-step-warm-'));
  try {
    const sources = join(scratch, 'sources');
    mkdirSync(sources);
    writeFileSync(join(sources, 'one.txt'), 'one line\n');
    const spec = JSON.stringify({ source: { kind: 'local', path: sources } });
    execFileSync(
      process.execPath,
      [join(root, 'bin/dyffctl.mjs'), 'step', 'fetch-data', '--id', '0'.repeat(32), '--spec', spec],
      {
        cwd: scratch,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: scratch,
          DYFF_CODE_CACHE: 'write',
          DYFF_DATA_HOME: join(scratch, 'data'),
          DYFF_LOCAL_ROOTS: sources,
          DYFF_OBJECT_STORE: 'filesystem',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    // (A source edited during the build leaves dist/ stale: the launcher then ran the sources, and wrote nothing.)
    log(
      existsSync(`${STEP_BUNDLE}.cache`)
        ? `code cache: ${STEP_BUNDLE}.cache`
        : 'no code cache: dist/ is stale',
    );
  } catch (err) {
    log(
      `no code cache for ${STEP_BUNDLE} (steps start without it): ${err.stderr?.toString().trim() || err.message}`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function acquire() {
  mkdirSync(dist, { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    // A builder that died mid-build leaves its lock behind: take it over (one with no pid yet is given 30 s).
    if (abandoned()) rmSync(lock, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 500));
  }
}

function abandoned() {
  try {
    const holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    if (holder) return !alive(holder);
  } catch {
    // no pid written yet
  }
  try {
    return Date.now() - statSync(lock).mtimeMs > 30_000;
  } catch {
    return false; // released meanwhile
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await build({ ifStale: process.argv.includes('--if-stale') });
  } catch {
    process.stderr.write('build failed: dist/ is left unstamped, so dyffctl runs the TypeScript sources\n');
    process.exitCode = 1;
  }
}
