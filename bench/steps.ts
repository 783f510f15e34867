/**
 * bench:steps — how long a local step takes from the job runner's `start` to the step's first log line, over
 * BENCH_JOBS (50) jobs one at a time through the real LocalProcessJobRunner (detached `sh` wrapper, environment built
 * from nothing, output to the job's output.log), for these commands side by side, interleaved so that a change in
 * the machine's load hits all of them alike:
 *   node   `node -e 'console.log(…)'`: the floor, Node itself starting under the same wrapper
 *   dist   `dyffctl step fetch-data …` as a worker running from dist/ starts it (stepCommand of dist/'s
 *          adapters: bin/dyff-step.cjs, which runs the build's step bundle, dist/cli/step.cjs, with its code cache,
 *          bin/code-cache.cjs)
 *   dyffctl the same through bin/dyffctl.mjs, as a worker running the sources starts it: the ES module loader and
 *          the check that dist/ matches src/, then the same bundle
 *   modules the same from dist/'s modules, one ES module at a time (DYFF_STEP_BUNDLE=0), as before the bundle
 *   tsx    the same step through the TypeScript loader (`node --import tsx/esm src/cli/main.ts step …`)
 *   nodeNoCa, distNoCa  node and dist without the worker's NODE_EXTRA_CA_CERTS (the same as node and dist where
 *          the variable is not set). `node -e` gets it from the runner as Node's own variable, which Node reads and
 *          parses as it starts, whether or not the process uses TLS; a step gets it as DYFF_EXTRA_CA_CERTS and reads
 *          it at its first TLS connection (src/steps/net/extra-ca.ts)
 *   distNodeCa  dist given the worker's file as NODE_EXTRA_CA_CERTS, as steps were before: what that costs a step
 * The step fetches a one-line local file, so each job also runs to completion (exit 0, checked). Prints the median
 * and p95 of each, then where a compiled step's start goes, from the bundle and from the modules (CPU per phase,
 * bench/step-start-phases.mjs, median of BENCH_PROFILES runs); the last line is key=value pairs. The goal (issue
 * #16) is dist p95 ≤ 200 ms.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DYFFCTL_COMMAND } from '../src/adapters/index.js';
import { LocalProcessJobRunner } from '../src/adapters/job-runner/local-process.js';
import { configEnv, loadConfig } from '../src/config.js';
import { benchArgs } from './cli.js';

benchArgs(
  `npm run bench:steps

How long a local step takes from the job runner's start to its first log line, one job at a time through the
local process runner, for a bare node -e and the step started each way it can be (from dist/, through
bin/dyffctl.mjs, from dist/'s modules, through tsx), interleaved. Prints the median and p95 of each and where a
compiled step's start goes; the last line holds them as key=value. The goal: from dist/, p95 <= 200 ms.

Environment:
  BENCH_JOBS=N       jobs per command (default 50)
  BENCH_PROFILES=N   runs profiled per start phase (default 7)`,
  {},
);
const JOBS = Number(process.env.BENCH_JOBS ?? 50);
const PROFILES = Number(process.env.BENCH_PROFILES ?? 7);
const WARMUP = 2;
const REPO = resolve(import.meta.dirname, '..');
const HOME = join(REPO, 'bench/.data/steps');

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

// The compiled tree must be fresh, or the `dist` column would silently measure the tsx fallback.
execFileSync(process.execPath, [join(REPO, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });
const version = execFileSync(process.execPath, [join(REPO, 'bin/dyffctl.mjs'), 'version'], {
  encoding: 'utf8',
});
if (!version.includes('compiled') || !version.includes('with its code cache'))
  throw new Error(`dyffctl does not run dist/ and its step bundle:\n${version}`);

await rm(HOME, { recursive: true, force: true });
const sources = join(HOME, 'sources');
await mkdir(sources, { recursive: true });
await writeFile(join(sources, 'one.txt'), 'one line\n');
const env = configEnv(loadConfig({ dataHome: HOME, sources: { localRoots: [sources] } }));

const tsxEsm = fileURLToPath(import.meta.resolve('tsx/esm'));
// The command a worker running from dist/ gives its local runner, taken from dist/ itself.
const built = (await import(join(REPO, 'dist/adapters/index.js'))) as { stepCommand(): string[] };
const STEP_FROM_DIST = built.stepCommand();
if (!STEP_FROM_DIST.at(-2)?.endsWith('bin/dyff-step.cjs'))
  throw new Error(
    `a worker running from dist/ does not start steps from the bundle: ${STEP_FROM_DIST.join(' ')}`,
  );
const STEP_THROUGH_DYFFCTL = [...DYFFCTL_COMMAND, 'step'];
const VARIANTS = {
  node: [process.execPath, '-e', 'console.log("started")'],
  dist: STEP_FROM_DIST,
  dyffctl: STEP_THROUGH_DYFFCTL,
  modules: STEP_THROUGH_DYFFCTL,
  tsx: [process.execPath, '--import', tsxEsm, join(REPO, 'src/cli/main.ts'), 'step'],
  nodeNoCa: [process.execPath, '-e', 'console.log("started")'],
  distNoCa: STEP_FROM_DIST,
  distNodeCa: STEP_FROM_DIST,
} as const;
const NO_CA = new Set<string>(['nodeNoCa', 'distNoCa']);
const extraCas = process.env.NODE_EXTRA_CA_CERTS;
/** The runner's configuration variables, which it passes on as they are: here, what distNodeCa starts with. */
const envOf = (v: string): Record<string, string> =>
  v === 'modules'
    ? { ...env, DYFF_STEP_BUNDLE: '0' }
    : v === 'distNodeCa' && extraCas
      ? { ...env, NODE_EXTRA_CA_CERTS: extraCas }
      : env;
type Variant = keyof typeof VARIANTS;
const runners = Object.fromEntries(
  Object.entries(VARIANTS).map(([v, command]) => [
    v,
    new LocalProcessJobRunner({
      root: join(HOME, 'jobs', v),
      command: [...command],
      env: envOf(v),
      workerEnv: NO_CA.has(v) ? { ...process.env, NODE_EXTRA_CA_CERTS: undefined } : process.env,
    }),
  ]),
) as Record<Variant, LocalProcessJobRunner>;

/** Resolves when the job's output.log holds a complete line: woken by the directory's change events. */
function firstLine(dir: string): Promise<void> {
  return new Promise((resolveLine, reject) => {
    let done = false;
    const check = () =>
      void readFile(join(dir, 'output.log'), 'utf8')
        .catch(() => '')
        .then((text) => {
          if (done || !text.includes('\n')) return;
          done = true;
          watcher.close();
          clearInterval(fallback);
          resolveLine();
        }, reject);
    const watcher = watch(dir, check);
    // inotify does not miss events, but a line written before the watch began would go unseen without this.
    const fallback = setInterval(check, 100);
    check();
  });
}

/** One job: ms from `start` to its first line; then waits for it to end and checks that it succeeded. */
async function once(v: Variant, i: number): Promise<number> {
  const id = randomBytes(16).toString('hex');
  const name = `fetch-data-${id}-1`;
  const args =
    v === 'node' || v === 'nodeNoCa'
      ? []
      : ['fetch-data', '--id', id, '--spec', JSON.stringify({ source: { kind: 'local', path: sources } })];
  const t0 = performance.now();
  await runners[v].start({ name, entityId: id, stage: 'fetch-data', args });
  await firstLine(join(HOME, 'jobs', v, name));
  const ms = performance.now() - t0;
  const end = await runners[v].wait(name);
  if (end.phase !== 'succeeded')
    throw new Error(`${v} job ${i} ${end.phase}: ${end.reason ?? ''}\n${(end.logTail ?? []).join('\n')}`);
  return ms;
}

console.log(`${JOBS} jobs per command, one at a time (after ${WARMUP} warm-up each); load ${load()}`);
console.log(
  extraCas
    ? `NODE_EXTRA_CA_CERTS=${extraCas}: node and distNodeCa start with it, the other steps but distNoCa read it ` +
        'at their first TLS connection (this one opens none)'
    : 'NODE_EXTRA_CA_CERTS is not set: nodeNoCa, distNoCa and distNodeCa measure the same as node and dist',
);
const ms: Record<Variant, number[]> = {
  node: [],
  dist: [],
  dyffctl: [],
  modules: [],
  tsx: [],
  nodeNoCa: [],
  distNoCa: [],
  distNodeCa: [],
};
for (let i = 0; i < WARMUP + JOBS; i++) {
  for (const v of Object.keys(VARIANTS) as Variant[]) {
    const t = await once(v, i);
    if (i >= WARMUP) ms[v].push(t);
  }
}
const stats = Object.fromEntries(
  (Object.keys(ms) as Variant[]).map((v) => [v, { p50: quantile(ms[v], 0.5), p95: quantile(ms[v], 0.95) }]),
) as Record<Variant, { p50: number; p95: number }>;
for (const [v, s] of Object.entries(stats))
  console.log(
    `${v.padEnd(8)} start to first line: median ${s.p50.toFixed(0)} ms, p95 ${s.p95.toFixed(0)} ms`,
  );
// The same start, phase by phase, in CPU time (less swayed by the machine's load than wall time).
const profile = (mode: 'bundle' | 'modules') => {
  const runs = Array.from({ length: PROFILES }, () => {
    const out = execFileSync(process.execPath, [join(REPO, 'bench/step-start-phases.mjs'), mode], {
      encoding: 'utf8',
      // As the runner gives a step the worker's extra certificates (src/domain/step-environment.ts).
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: undefined,
        DYFF_EXTRA_CA_CERTS: extraCas,
        ...env,
        STEP_ID: randomBytes(16).toString('hex'),
        STEP_SPEC: JSON.stringify({ source: { kind: 'local', path: sources } }),
      },
    });
    return JSON.parse(out) as [string, number][];
  });
  console.log(`where a compiled step's start goes from the ${mode}, CPU ms (median of ${PROFILES} runs):`);
  const medians = runs[0]!.map(
    ([phase], i) =>
      [
        phase,
        quantile(
          runs.map((r) => r[i]![1]),
          0.5,
        ),
      ] as const,
  );
  for (const [phase, cpuMs] of medians) console.log(`  ${phase.padEnd(36)} ${cpuMs.toFixed(0)}`);
  const total = medians.filter(([p]) => p !== 'node bootstrap').reduce((sum, [, cpuMs]) => sum + cpuMs, 0);
  console.log(`  ${'above node bootstrap'.padEnd(36)} ${total.toFixed(0)}`);
  return { medians, total };
};
const bundled = profile('bundle');
const modular = profile('modules');
const cpuOf = (phase: string) => modular.medians.find(([p]) => p === phase)?.[1] ?? NaN;

// A step reads the extra certificates only at its first TLS connection, so its floor is Node started without them.
console.log(
  `jobs=${JOBS} node_p50_ms=${stats.node.p50.toFixed(0)} node_p95_ms=${stats.node.p95.toFixed(0)} ` +
    `steps_p50_ms=${stats.dist.p50.toFixed(0)} steps_p95_ms=${stats.dist.p95.toFixed(0)} ` +
    `dyffctl_p50_ms=${stats.dyffctl.p50.toFixed(0)} dyffctl_p95_ms=${stats.dyffctl.p95.toFixed(0)} ` +
    `modules_p50_ms=${stats.modules.p50.toFixed(0)} modules_p95_ms=${stats.modules.p95.toFixed(0)} ` +
    `tsx_p50_ms=${stats.tsx.p50.toFixed(0)} tsx_p95_ms=${stats.tsx.p95.toFixed(0)} ` +
    `node_no_ca_p50_ms=${stats.nodeNoCa.p50.toFixed(0)} node_no_ca_p95_ms=${stats.nodeNoCa.p95.toFixed(0)} ` +
    `steps_no_ca_p50_ms=${stats.distNoCa.p50.toFixed(0)} steps_no_ca_p95_ms=${stats.distNoCa.p95.toFixed(0)} ` +
    `steps_node_ca_p50_ms=${stats.distNodeCa.p50.toFixed(0)} ` +
    `steps_node_ca_p95_ms=${stats.distNodeCa.p95.toFixed(0)} ` +
    `over_node_p50_ms=${(stats.dist.p50 - stats.nodeNoCa.p50).toFixed(0)} goal_p95_ms=200 ` +
    `cpu_node_ms=${cpuOf('node bootstrap').toFixed(0)} cpu_zod_ms=${cpuOf('zod').toFixed(0)} ` +
    `cpu_above_node_bundle_ms=${bundled.total.toFixed(0)} cpu_above_node_modules_ms=${modular.total.toFixed(0)} ` +
    `loadavg=${loadavg()[0]!.toFixed(2)}`,
);
