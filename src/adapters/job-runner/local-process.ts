import { spawn } from 'node:child_process';
import { existsSync, readFileSync, watch } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobEnding } from '../../domain/job-outcome.js';
import { failedExitOutcome } from '../../domain/job-outcome.js';
import type { JobRunner, JobSpec, JobStatus, StartResult, WaitOptions } from '../../ports/job-runner.js';
import { stepEnvironment } from '../../domain/step-environment.js';
import { stopGroup } from '../process-group.js';
import { readLogTail } from './log-tail.js';

export interface LocalProcessJobRunnerOptions {
  /** Directory holding one sub-directory of state per job. */
  root: string;
  /** The program and leading args that run a step, e.g. [node, bin/dyffctl.mjs, 'step']. */
  command: string[];
  /** The configuration as variables (`configEnv`); JobSpec.env is merged over it. */
  env?: Record<string, string>;
  /** Where the variables a step may take from the worker come from (see STEP_ENVIRONMENT). @default process.env */
  workerEnv?: Record<string, string | undefined>;
  /** A job whose directory exists this long without a recorded process counts as lost. @default 15000 */
  startGraceMs?: number;
}

/*
 * Each job runs under a detached `sh` that records the step's exit code in the job directory. Detached means its
 * own process group: the job outlives a killed worker, and a new worker adopts it by name, reading the state from
 * the directory instead of from the (gone) parent's memory.
 */
const WRAPPER =
  'd="$1"; shift; "$@" >>"$d/output.log" 2>&1 </dev/null; c=$?; echo "$c" >"$d/exit.tmp"; mv "$d/exit.tmp" "$d/exit"';

export class LocalProcessJobRunner implements JobRunner {
  private readonly startGraceMs: number;
  constructor(private readonly opts: LocalProcessJobRunnerOptions) {
    this.startGraceMs = opts.startGraceMs ?? 15_000;
  }

  private dir(name: string): string {
    if (!/^[a-z0-9][-a-z0-9]*$/.test(name)) throw new Error(`invalid job name ${JSON.stringify(name)}`);
    return join(this.opts.root, name);
  }

  async start(spec: JobSpec): Promise<StartResult> {
    const dir = this.dir(spec.name);
    await mkdir(this.opts.root, { recursive: true });
    try {
      await mkdir(dir); // atomic: exactly one starter wins, every other one adopts
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return {
        adopted: true,
        status: (await this.status(spec.name)) ?? { name: spec.name, phase: 'pending' },
      };
    }
    await writeFile(join(dir, 'spec.json'), JSON.stringify({ ...spec, startTime: new Date().toISOString() }));
    const [program, ...lead] = this.opts.command;
    const child = spawn('/bin/sh', ['-c', WRAPPER, 'dyff-job', dir, program!, ...lead, ...spec.args], {
      detached: true,
      stdio: 'ignore',
      // Built from nothing: a step never sees the worker's environment, only what its program needs.
      env: {
        ...stepEnvironment(spec.args[0], {
          config: this.opts.env ?? {},
          worker: this.opts.workerEnv ?? process.env,
          placement: 'local',
        }),
        ...spec.env,
        DYFF_JOB_NAME: spec.name,
      },
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    });
    child.unref();
    await writeFile(join(dir, 'pid.tmp'), String(pid));
    await rename(join(dir, 'pid.tmp'), join(dir, 'pid'));
    if (spec.activeDeadlineSeconds) this.enforceDeadline(spec.name, spec.activeDeadlineSeconds);
    return {
      adopted: false,
      status: { name: spec.name, phase: 'running', startTime: new Date().toISOString() },
    };
  }

  private enforceDeadline(name: string, seconds: number): void {
    const timer = setTimeout(() => {
      void this.status(name).then(async (s) => {
        if (s && (s.phase === 'running' || s.phase === 'pending')) {
          await writeFile(join(this.dir(name), 'deadline'), String(seconds));
          await this.kill(name);
        }
      });
    }, seconds * 1000);
    timer.unref();
  }

  /** The timer set by `start` died with the worker that started the job: whoever waits now enforces it. */
  private async enforceAdoptedDeadline(name: string, s: JobStatus): Promise<void> {
    if (s.phase !== 'running' || !s.startTime) return;
    const spec = await readText(join(this.dir(name), 'spec.json'));
    const seconds = spec ? (JSON.parse(spec) as JobSpec).activeDeadlineSeconds : undefined;
    if (!seconds || Date.now() - Date.parse(s.startTime) < seconds * 1000) return;
    await writeFile(join(this.dir(name), 'deadline'), String(seconds));
    await this.kill(name);
  }

  async status(name: string): Promise<JobStatus | undefined> {
    const dir = this.dir(name);
    let meta;
    try {
      meta = JSON.parse(await readFile(join(dir, 'spec.json'), 'utf8')) as { startTime?: string };
    } catch {
      if (!existsSync(dir)) return undefined;
      return { name, phase: 'pending' };
    }
    const tail = await readLogTail(join(dir, 'output.log'));
    const base = { name, startTime: meta.startTime, logTail: tail.lines, progress: tail.progress };
    const exit = await readText(join(dir, 'exit'));
    if (exit !== undefined) {
      const code = Number(exit.trim());
      const done = (await stat(join(dir, 'exit'))).mtime.toISOString();
      if (code === 0)
        return { ...base, phase: 'succeeded', outcome: 'succeeded', exitCode: 0, completionTime: done };
      return {
        ...base,
        phase: 'failed',
        exitCode: code,
        ...(await this.ending(dir, code)),
        completionTime: done,
      };
    }
    const pid = await readText(join(dir, 'pid'));
    if (pid !== undefined && isAlive(Number(pid), dir)) return { ...base, phase: 'running' };
    // Re-read: the wrapper may have written its exit code between the two reads.
    if (existsSync(join(dir, 'exit'))) return this.status(name);
    // This runner stopped it (a cancel, a deadline) and has not yet recorded the exit code the kill gave.
    const stopped = await this.stoppedHere(dir);
    if (stopped) return { ...base, phase: 'failed', ...stopped };
    const age = Date.now() - (meta.startTime ? Date.parse(meta.startTime) : 0);
    if (pid === undefined && age < this.startGraceMs) return { ...base, phase: 'pending' };
    return {
      ...base,
      phase: 'failed',
      outcome: 'lost',
      reason:
        'lost: the job process ended without recording an exit code (killed from outside or machine restart)',
    };
  }

  /** The wrapper saw only an exit code; the marker files say whether this runner caused it. */
  private async ending(dir: string, code: number): Promise<JobEnding> {
    const stopped = await this.stoppedHere(dir);
    if (stopped) return stopped;
    const outcome = failedExitOutcome(code);
    if (outcome === 'signal') return { outcome, reason: `killed by signal ${code - 128}` };
    if (outcome === 'transient') return { outcome, reason: `exit code ${code} (transient failure)` };
    return { outcome, reason: `exit code ${code}` };
  }

  /** The ending this runner caused, from the marker it wrote before stopping the job's processes. */
  private async stoppedHere(dir: string): Promise<JobEnding | undefined> {
    if (await exists(join(dir, 'cancelled'))) return { outcome: 'cancelled', reason: 'cancelled' };
    const deadline = await readText(join(dir, 'deadline'));
    if (deadline === undefined) return undefined;
    return {
      outcome: 'deadline',
      reason: `deadline exceeded: ran longer than activeDeadlineSeconds=${deadline}`,
    };
  }

  async wait(name: string, opts: WaitOptions = {}): Promise<JobStatus> {
    const dir = this.dir(name);
    let wake: () => void = () => {};
    const watcher = existsSync(dir) ? watch(dir, () => wake()) : undefined;
    const onAbort = () => wake();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        opts.signal?.throwIfAborted();
        const s = (await this.status(name)) ?? {
          name,
          phase: 'failed' as const,
          outcome: 'lost' as const,
          reason: 'deleted: the job no longer exists',
        };
        opts.onUpdate?.(s);
        if (s.phase === 'succeeded' || s.phase === 'failed') return s;
        await this.enforceAdoptedDeadline(name, s);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      watcher?.close();
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async cancel(name: string): Promise<void> {
    const dir = this.dir(name);
    if (!existsSync(dir)) return;
    const s = await this.status(name);
    if (s && (s.phase === 'succeeded' || s.phase === 'failed')) return;
    await writeFile(join(dir, 'cancelled'), new Date().toISOString());
    await this.kill(name);
  }

  /** SIGTERM the job's process group, then SIGKILL whatever is left after a grace period. */
  private async kill(name: string): Promise<void> {
    const dir = this.dir(name);
    const pid = Number(await readText(join(dir, 'pid')));
    if (!pid) return;
    await stopGroup(pid);
    if (!existsSync(join(dir, 'exit'))) {
      const fd = await open(join(dir, 'exit'), 'w');
      await fd.writeFile('143\n');
      await fd.close();
    }
  }

  async list(entityId: string): Promise<JobStatus[]> {
    if (!existsSync(this.opts.root)) return [];
    const out: JobStatus[] = [];
    for (const name of (await readdir(this.opts.root)).sort()) {
      const spec = await readText(join(this.opts.root, name, 'spec.json'));
      if (!spec || (JSON.parse(spec) as JobSpec).entityId !== entityId) continue;
      const s = await this.status(name);
      if (s) out.push(s);
    }
    return out;
  }

  async close(): Promise<void> {}
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await readText(path)) !== undefined;
}

/** Alive and still ours: a recycled pid running something else does not count. */
function isAlive(pid: number, dir: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!existsSync('/proc/self')) return true;
  try {
    // A zombie has an empty cmdline, a recycled pid another one.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}
