import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface SandboxLayout {
  /** The procedure's files (read-only to it). */
  procedure: string;
  inputs: string;
  output: string;
  /** Its HOME and TMPDIR: the one other place it may write. */
  home: string;
}

export interface SandboxRun {
  entrypoint: string;
  layout: SandboxLayout;
  /** Variables the contract gives it (DYFF_AUDIT_*); nothing of the step's own environment is passed. */
  env: Record<string, string>;
  onLine: (line: string) => void;
  signal?: AbortSignal;
}

/** How long a procedure has to exit after SIGTERM before it is killed. */
const GRACE_MS = 5000;

/**
 * Run a procedure as `node <entrypoint>` in a sandbox: an environment built from nothing (no worker variables, no
 * credentials, no object-store settings), its working directory its own folder, and Node's permission model
 * limiting the file system to reads of its folder, inputs and home, writes to its output and home, and refusing
 * child processes, worker threads and native addons. Network access is the pod's (the audit NetworkPolicy) or the
 * host's; docs/audits.md says what that means locally. Resolves with the exit code (128+n for a signal).
 */
export function runSandboxed(run: SandboxRun): Promise<number> {
  const { procedure, inputs, output, home } = run.layout;
  const args = [
    '--experimental-permission',
    // One flag per folder: recent Node releases no longer take a comma-separated list.
    ...[procedure, inputs, output, home].map((d) => `--allow-fs-read=${d}`),
    ...[output, home].map((d) => `--allow-fs-write=${d}`),
    '--disable-warning=ExperimentalWarning',
    join(procedure, run.entrypoint),
  ];
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', HOME: home, TMPDIR: home, ...run.env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: procedure, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr])
      createInterface({ input: stream }).on('line', run.onLine);
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
    };
    run.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', reject);
    child.on('close', (code, sig) => {
      clearTimeout(killer);
      run.signal?.removeEventListener('abort', stop);
      resolve(code ?? 128 + (sig ? signalNumber(sig) : 0));
    });
  });
}

const signalNumber = (sig: NodeJS.Signals) => ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 })[sig as string] ?? 0;
