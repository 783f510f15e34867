// Where a compiled step's start goes: CPU time (user + system) of each thing `dyffctl step` loads or does before
// its first line, in the order it does them, measured with process.cpuUsage() in one process. Plain JavaScript
// run by bare node, so that no loader is measured. Prints one JSON array of [phase, ms]; bench/steps.ts runs it.
// `bundle` (the argument): the start as bin/dyff-step.cjs makes it, from the step bundle with its code cache
// (bin/code-cache.cjs, its two halves timed apart), running a fetch-data step whose spec and id come in
// STEP_SPEC and STEP_ID; `modules` (the default): the same start from dist/'s modules as bin/dyffctl.mjs makes it
// with DYFF_STEP_BUNDLE=0 (its freshness check first).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const phases = [['node bootstrap', cpu()]];
const phase = async (name, f) => {
  const before = cpu();
  await f();
  phases.push([name, cpu() - before]);
};
const root = new URL('..', import.meta.url);
const dist = (path) => new URL(`dist/${path}`, root).href;

if (process.argv[2] === 'bundle') {
  let compileWithCodeCache, runCompiled, file;
  // What bin/dyff-step.cjs does before it runs the bundle.
  await phase('launcher', () => {
    let stepBundle;
    ({ compileWithCodeCache, runCompiled, stepBundle } = createRequire(import.meta.url)(
      '../bin/code-cache.cjs',
    ));
    file = stepBundle();
    if (!file) throw new Error('no step bundle: npm run build');
  });
  let script;
  await phase('bundle: read, code cache', () => {
    const compiled = compileWithCodeCache(file);
    if (compiled.state !== 'accepted') throw new Error(`${file}.cache ${compiled.state}: npm run build`);
    script = compiled.script;
  });
  // The step's first line and its exit, caught: the bundle's entry runs the step and then calls process.exit.
  const write = process.stdout.write.bind(process.stdout);
  let firstLine;
  const exited = new Promise((resolveExit) => {
    process.exit = (code) => resolveExit(code);
  });
  process.stdout.write = () => {
    firstLine ??= cpu();
    return true;
  };
  process.argv = [
    process.argv[0],
    'bin/dyffctl.mjs',
    'step',
    'fetch-data',
    '--id',
    process.env.STEP_ID,
    '--spec',
    process.env.STEP_SPEC,
  ];
  await phase('bundle: module bodies, loadConfig', () => runCompiled(script, file));
  const before = cpu();
  const code = await exited;
  process.stdout.write = write;
  if (code !== 0 || firstLine === undefined) throw new Error(`the step exited ${code}`);
  phases.push(['object store, runner', firstLine - before]);
} else {
  await phase('launcher freshness check', async () => {
    const { distState } = await import(new URL('bin/build-stamp.mjs', root).href);
    if (!distState(fileURLToPath(root)).fresh) throw new Error('dist/ is not fresh: npm run build');
  });
  await phase('zod', () => import('zod'));
  await phase('config and spec schemas', async () => {
    await import(dist('domain/specs.js'));
    await import(dist('config.js'));
  });
  let config;
  await phase('loadConfig', async () => {
    config = (await import(dist('config.js'))).loadConfig();
  });
  await phase('adapters, object store', async () => {
    await (await import(dist('adapters/index.js'))).createObjectStore(config);
  });
  await phase('step runner', () => import(dist('steps/run.js')));
}
process.stdout.write(`${JSON.stringify(phases)}\n`);
