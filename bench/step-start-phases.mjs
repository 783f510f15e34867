// Where a compiled step's start goes: CPU time (user + system) of each thing `dyffctl step` loads or does before
// its first line, in the order it does them, measured with process.cpuUsage() in one process. Plain JavaScript
// run by bare node, so that no loader is measured. Prints one JSON array of [phase, ms]; bench/steps.ts runs it.
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
process.stdout.write(`${JSON.stringify(phases)}\n`);
