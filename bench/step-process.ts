/**
 * A step as its own process, started the way the local runner of a worker running from dist/ starts it
 * (`bin/dyff-step.cjs`: the step bundle with its code cache; the environment `stepEnvironment` gives it), and
 * measured from spawn to exit: wall time, and the whole process's CPU and peak RSS from `bench/exit-usage.cjs`,
 * preloaded into it. Used by bench:ingest and bench:inference.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config.js';
import { configEnv } from '../src/config.js';
import { stepEnvironment } from '../src/domain/step-environment.js';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = join(here, '..');

export interface ProcessMeasurement {
  /** Spawn to exit. */
  seconds: number;
  cpuSeconds: number;
  /** The main thread's CPU alone (Linux; NaN elsewhere). */
  mainCpuSeconds: number;
  maxRssMiB: number;
}

/** The `--help` lines of a benchmark whose processes `measured` starts. */
export const NODE_FLAGS_HELP = `Environment:
  BENCH_STEP_NODE_FLAGS  Node options, space-separated, for each process timed from spawn to exit (the
                         step and the reference beside it), e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"`;

/**
 * Runs one Node process (`args` after the preload) with `bench/exit-usage.cjs` preloaded; `onLine` sees each line
 * of its stdout with the time since the spawn. Resolves with its wall time, CPU and peak RSS. Node options in
 * `BENCH_STEP_NODE_FLAGS` (space-separated) go to every such process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
 * for a CPU profile of each: a step is given its runner's environment, so `NODE_OPTIONS` would not reach it.
 */
export async function measured(
  args: string[],
  env: NodeJS.ProcessEnv,
  usageFile: string,
  onLine: (line: string, atSeconds: number) => void = () => {},
): Promise<ProcessMeasurement> {
  const started = performance.now();
  const flags = process.env.BENCH_STEP_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...flags, '--require', join(here, 'exit-usage.cjs'), ...args], {
    env: { ...env, BENCH_USAGE_FILE: usageFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout }).on('line', (line) =>
    onLine(line, (performance.now() - started) / 1000),
  );
  const [code] = (await once(child, 'exit')) as [number | null];
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}`);
  const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as {
    cpuSeconds: number;
    mainCpuSeconds: number | null;
    maxRssMiB: number;
  };
  return { seconds, ...usage, mainCpuSeconds: usage.mainCpuSeconds ?? NaN };
}

/** The environment the local runner gives step `program` under `config` (stepEnvironment). */
export function stepEnv(program: string, config: Config): NodeJS.ProcessEnv {
  const env = stepEnvironment(program, {
    config: configEnv(config),
    worker: process.env,
    placement: 'local',
  });
  return { ...env, DYFF_JOB_NAME: `${program}-bench` };
}

/** The arguments that start step `name` through the launcher (after the Node executable). */
export const stepArgs = (name: string, args: string[]) => [
  join(REPO, 'bin/dyff-step.cjs'),
  'step',
  name,
  ...args,
];
