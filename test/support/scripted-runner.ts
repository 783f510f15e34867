import type { JobRunner, JobSpec, JobStatus, StartResult, WaitOptions } from '../../src/ports/job-runner.js';
import { failedExitOutcome } from '../../src/domain/job-outcome.js';

export type Behaviour =
  | { outcome: 'succeed'; effect?: (spec: JobSpec) => Promise<void> }
  | { outcome: 'fail'; exitCode: number; logTail: string[] }
  | { outcome: 'lost' }
  | { outcome: 'hang' };

/**
 * A JobRunner for orchestration tests: each stage behaves as scripted (per try), and every start, adoption and
 * cancel is recorded. Real runners are tested by the JobRunner contract suite.
 */
export class ScriptedJobRunner implements JobRunner {
  readonly started: JobSpec[] = [];
  readonly cancelled: string[] = [];
  private readonly jobs = new Map<string, { spec: JobSpec; status: JobStatus; release?: () => void }>();

  constructor(private readonly script: (stage: string, attempt: number) => Behaviour) {}

  async start(spec: JobSpec): Promise<StartResult> {
    const existing = this.jobs.get(spec.name);
    if (existing) return { adopted: true, status: existing.status };
    this.started.push(spec);
    const attempt = Number(spec.name.split('-').at(-1));
    const behaviour = this.script(spec.stage, attempt);
    const job: { spec: JobSpec; status: JobStatus; release?: () => void } = {
      spec,
      status: {
        name: spec.name,
        phase: 'running',
        startTime: new Date().toISOString(),
        progress: { done: 1, total: 2 },
      },
    };
    this.jobs.set(spec.name, job);
    switch (behaviour.outcome) {
      case 'succeed':
        await behaviour.effect?.(spec);
        job.status = { ...job.status, phase: 'succeeded', outcome: 'succeeded', exitCode: 0 };
        break;
      case 'fail':
        job.status = {
          ...job.status,
          phase: 'failed',
          outcome: failedExitOutcome(behaviour.exitCode),
          exitCode: behaviour.exitCode,
          reason: `exit code ${behaviour.exitCode}`,
          logTail: behaviour.logTail,
        };
        break;
      case 'lost':
        job.status = { ...job.status, phase: 'failed', outcome: 'lost', reason: 'lost: process vanished' };
        break;
      case 'hang':
        break;
    }
    return { adopted: false, status: job.status };
  }

  async status(name: string): Promise<JobStatus | undefined> {
    return this.jobs.get(name)?.status;
  }

  async wait(name: string, opts: WaitOptions = {}): Promise<JobStatus> {
    const job = this.jobs.get(name);
    if (!job) return { name, phase: 'failed', outcome: 'lost', reason: 'deleted' };
    // One listener for the whole wait: one per poll would pile up on a long wait.
    const onAbort = () => job.release?.();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (job.status.phase === 'running') {
        opts.signal?.throwIfAborted();
        opts.onUpdate?.(job.status);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 200);
          job.release = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    return job.status;
  }

  async cancel(name: string): Promise<void> {
    const job = this.jobs.get(name);
    this.cancelled.push(name);
    if (job && job.status.phase === 'running') {
      job.status = { ...job.status, phase: 'failed', outcome: 'cancelled', reason: 'cancelled' };
      job.release?.();
    }
  }

  isRunning(name: string): boolean {
    return this.jobs.get(name)?.status.phase === 'running';
  }

  /** Let a job that hangs succeed now, as if its program had finished. */
  finish(name: string): void {
    const job = this.jobs.get(name);
    if (job?.status.phase !== 'running') throw new Error(`job ${name} is not running`);
    job.status = { ...job.status, phase: 'succeeded', outcome: 'succeeded', exitCode: 0 };
    job.release?.();
  }

  async list(entityId: string): Promise<JobStatus[]> {
    return [...this.jobs.values()].filter((j) => j.spec.entityId === entityId).map((j) => j.status);
  }

  async close(): Promise<void> {}
}
