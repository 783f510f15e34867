import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Config } from '../../src/config.js';
import { configEnv } from '../../src/config.js';

export const DYFFCTL = resolve(import.meta.dirname, '../../bin/dyffctl.mjs');

/** The environment that points a `dyffctl` process at a test's server, task queue, data home and runner. */
export function cliEnv(config: Config): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DYFF_DATA_HOME: config.dataHome,
    DYFF_TEMPORAL_ADDRESS: config.temporal.address,
    DYFF_TASK_QUEUE: config.temporal.taskQueue,
    DYFF_CONFIG: resolve(config.dataHome, 'dyff.config.yaml'),
    DYFF_RUNNER: config.runner,
    DYFF_K8S_NAMESPACE: config.kubernetes.namespace,
    DYFF_K8S_IMAGE: config.kubernetes.image,
    DYFF_LOCAL_ROOTS: configEnv(config).DYFF_LOCAL_ROOTS,
    DYFF_ALLOW_PRIVATE_NETWORKS: configEnv(config).DYFF_ALLOW_PRIVATE_NETWORKS,
    ...(config.kubernetes.kubeconfig ? { DYFF_KUBECONFIG: config.kubernetes.kubeconfig } : {}),
  };
}

/** How long a worker may take to report `worker on` (it builds its workflow bundle first: seconds, not minutes). */
const WORKER_START_MS = 120_000;

/** A `dyffctl worker` in its own process, so a test can SIGKILL it like a crashed machine would. */
export async function spawnWorker(
  config: Config,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<ChildProcess & { output: () => string }> {
  const child = spawn(process.execPath, [DYFFCTL, 'worker'], {
    env: { ...cliEnv(config), ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    // A worker that neither starts nor exits fails its test here, with what it printed, not at the test's timeout.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker ${child.pid} not started within ${WORKER_START_MS / 1000} s:\n${out}`));
    }, WORKER_START_MS);
    const onData = () => {
      if (!out.includes('worker on')) return;
      clearTimeout(timer);
      resolve();
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}:\n${out}`));
    });
  });
  return Object.assign(child, { output: () => out });
}

export function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [DYFFCTL, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  /** Between probes: shorter for something that may not last long (a step of a few hundred ms). */
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
