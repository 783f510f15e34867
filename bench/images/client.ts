/**
 * The evaluate step alone in this process, so that its peak RSS is the client's and nothing else's. Argument: one
 * JSON object {storeRoot, dataHome, evaluation, spec, service, endpoint}. Prints RSS samples while it runs and, last,
 * `maxrss_kib=<n> code=<exit code>`.
 */
import { join } from 'node:path';
import { FilesystemObjectStore } from '../../src/adapters/object-store/filesystem.js';
import { loadConfig } from '../../src/config.js';
import { runStepProgram } from '../../src/steps/run.js';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  storeRoot: string;
  dataHome: string;
  evaluation: string;
  spec: unknown;
  service: unknown;
  endpoint: string;
};
const config = loadConfig({ dataHome: args.dataHome }, { DYFF_CONFIG: join(args.dataHome, 'none.yaml') });
const mib = (b: number) => Math.round(b / 2 ** 20);
const sampler = setInterval(() => console.log(`rss_mib=${mib(process.memoryUsage.rss())}`), 1000);
const lines: string[] = [];
const code = await runStepProgram(
  'evaluate',
  [
    '--id',
    args.evaluation,
    '--spec',
    JSON.stringify(args.spec),
    '--service',
    JSON.stringify(args.service),
    '--endpoint',
    args.endpoint,
  ],
  {
    objectStore: new FilesystemObjectStore({ root: args.storeRoot }),
    config,
    write: (line) => void lines.push(line),
  },
);
clearInterval(sampler);
if (code !== 0) console.log(lines.slice(-5).join('\n'));
// ru_maxrss: the process's high-water mark of resident memory, kept by the kernel (KiB on Linux).
console.log(`maxrss_kib=${process.resourceUsage().maxRSS} code=${code}`);
