import { CancelledFailure, Context } from '@temporalio/activity';
import type { Category } from '../domain/kinds.js';
import type { SecretRef } from '../domain/secrets.js';
import { logKeyFor } from '../domain/kinds.js';
import type { JobRunner, JobStatus } from '../ports/job-runner.js';
import { jobName } from '../ports/job-runner.js';
import type { ObjectStore } from '../ports/object-store.js';
import { translated } from './errors.js';

export interface RunStepInput {
  entityId: string;
  /** Where the entity's step logs live. */
  category: Category;
  stage: string;
  /** The workflow's try counter for this stage: a new try is a new job. */
  attempt: number;
  /** Step program arguments: [stepName, ...flags]. */
  args: string[];
  serviceAccount?: string;
  activeDeadlineSeconds?: number;
  /** Secrets the step uses, by reference only (this input is recorded in the workflow history). */
  secrets?: SecretRef[];
}

export interface RunStepOutput {
  jobName: string;
  phase: 'succeeded' | 'failed';
  exitCode?: number;
  reason?: string;
  /** The step's last log lines, for the entity's message when it failed. */
  logTail: string[];
  adopted: boolean;
  /** true when the job vanished without an exit code: worth another try. */
  lost: boolean;
}

/** What a long step reports through heartbeats, for `dyffctl get` and the Temporal UI. */
export interface StepHeartbeat {
  jobName: string;
  stage: string;
  progress?: JobStatus['progress'];
}

export const createStepActivities = (runner: JobRunner, objects: ObjectStore) => ({
  /**
   * Start (or adopt) the job for (entity, stage, try) and wait for it, heartbeating progress. A retry after a
   * worker crash lands here again with the same name and adopts the job that is still running.
   */
  async runStep(input: RunStepInput): Promise<RunStepOutput> {
    const ctx = Context.current();
    const name = jobName(input.entityId, input.stage, input.attempt);
    const beat = (status?: JobStatus) =>
      ctx.heartbeat({
        jobName: name,
        stage: input.stage,
        progress: status?.progress,
      } satisfies StepHeartbeat);
    beat();
    const started = await translated(() =>
      runner.start({
        name,
        entityId: input.entityId,
        stage: input.stage,
        args: input.args,
        serviceAccount: input.serviceAccount,
        activeDeadlineSeconds: input.activeDeadlineSeconds,
        secrets: input.secrets,
      }),
    );
    if (started.adopted) ctx.log.info('adopted existing job', { jobName: name, phase: started.status.phase });
    let done: JobStatus;
    try {
      done = await runner.wait(name, { signal: ctx.cancellationSignal, onUpdate: beat });
    } catch (err) {
      if (ctx.cancellationSignal.aborted) {
        await runner.cancel(name);
        throw new CancelledFailure(`step ${input.stage} cancelled; job ${name} stopped`);
      }
      throw err;
    }
    const logTail = done.logTail?.length ? done.logTail : await tailOfStoredLog(objects, input);
    return {
      jobName: name,
      phase: done.phase === 'succeeded' ? 'succeeded' : 'failed',
      exitCode: done.exitCode,
      reason: done.reason,
      logTail,
      adopted: started.adopted,
      lost: done.phase === 'failed' && /^(lost|deleted)/.test(done.reason ?? ''),
    };
  },

  /** Cleanup for cancellation paths: stop a job whether or not the activity that started it is alive. */
  async cancelStep(input: { jobName: string }): Promise<void> {
    await runner.cancel(input.jobName);
  },
});

async function tailOfStoredLog(objects: ObjectStore, input: RunStepInput): Promise<string[]> {
  try {
    const text = (await objects.getBuffer(input.category, logKeyFor(input.entityId))).toString('utf8');
    return text
      .split('\n')
      .filter((l) => l && !l.includes('::progress::'))
      .slice(-20);
  } catch {
    return [];
  }
}
