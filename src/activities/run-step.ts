import { CancelledFailure, Context } from '@temporalio/activity';
import type { Ending, FinishRequest } from '../domain/entity-endings.js';
import { endingDetails, endingOfStep } from '../domain/entity-endings.js';
import type { Category } from '../domain/kinds.js';
import type { SecretRef } from '../domain/secrets.js';
import type { JobOutcome } from '../domain/job-outcome.js';
import { isRetryableOutcome } from '../domain/job-outcome.js';
import type { EntityStore } from '../ports/entity-store.js';
import type { JobRunner, JobStatus } from '../ports/job-runner.js';
import { jobName } from '../ports/job-runner.js';
import type { ObjectStore } from '../ports/object-store.js';
import { translated } from './errors.js';
import { readJsonObject } from './lookups.js';
import { tailOfStepLog } from './step-logs.js';
import type { StepPolicy } from './step-policy.js';
import {
  DEFAULT_STEP_POLICY,
  cancelWasRequested,
  heartbeatEvery,
  interrupted,
  outcomeOf,
} from './step-policy.js';

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
  /** @default the worker's `limits.stepDeadlineSeconds` */
  activeDeadlineSeconds?: number;
  /** Secrets the step uses, by reference only (this input is recorded in the workflow history). */
  secrets?: SecretRef[];
  /** The spec's CPU and memory, when it sets them; the runner adds the catalogue's defaults and scratch. */
  resources?: { cpu?: string; memory?: string };
  /**
   * The JSON object the step writes for the workflow (a manifest, a summary), read once the job has succeeded and
   * returned as `output`: no local activity of its own to read it (runs since COMPACT_BOOKKEEPING_PATCH).
   */
  output?: { category: Category; key: string };
  /**
   * With `output`: once the job has succeeded, record the entity's ending that output makes (`STEP_ENDINGS`), and
   * return it as `finished`; no local activity of the workflow's own for it (runs since ENDING_WITH_WORK_PATCH).
   */
  finish?: FinishRequest;
  /**
   * An inference session the step used: stopped once the job has succeeded (`sessionStopped`). A failed try leaves
   * it up for the next try, and the workflow stops it on any other ending.
   */
  stopSession?: string;
}

export interface RunStepOutput {
  jobName: string;
  phase: 'succeeded' | 'failed';
  exitCode?: number;
  reason?: string;
  /** The step's last log lines, for the entity's message when it failed. */
  logTail: string[];
  adopted: boolean;
  /** true when the job vanished without an exit code (kept for histories recorded before `outcome`). */
  lost: boolean;
  /** How the job ended. Absent in histories recorded before it existed. */
  outcome?: JobOutcome;
  /** true when a new try (a new job) can fix this ending: lost, signal, OOM, eviction, preemption, deadline, 75. */
  retryable?: boolean;
  /** The worker's retry policy for steps, carried here so that the workflow reads configuration from history. */
  maxTries?: number;
  backoffSeconds?: number;
  /** The object `output` named, when the job succeeded (undefined when the step did not write it). */
  output?: unknown;
  /** The ending recorded for `finish`; absent when the output makes none (the workflow then ends the entity). */
  finished?: Ending;
  /** The session `stopSession` named was stopped. */
  sessionStopped?: boolean;
}

/** What a long step reports through heartbeats, for `dyffctl get` and the Temporal UI. */
export interface StepHeartbeat {
  jobName: string;
  stage: string;
  progress?: JobStatus['progress'];
}

export const createStepActivities = (
  runner: JobRunner,
  objects: ObjectStore,
  store: EntityStore,
  /** What a step's ending frees: an evaluation's quota slot (`finish.release`), a session (`stopSession`). */
  {
    releaseSlot,
    stopSession,
  }: {
    releaseSlot: (release: { account: string; holder: string }) => Promise<void>;
    stopSession: (input: { name: string }) => Promise<void>;
  },
  policy: StepPolicy = DEFAULT_STEP_POLICY,
) => {
  /**
   * Start (or adopt) the job for (entity, stage, try) and wait for it, heartbeating progress. A retry after a
   * worker crash, a heartbeat timeout or a server outage lands here again with the same name and adopts the job
   * that is still running; only a requested cancel stops it.
   */
  async function runStepJob(input: RunStepInput): Promise<RunStepOutput> {
    const ctx = Context.current();
    const name = jobName(input.entityId, input.stage, input.attempt);
    const beat: StepHeartbeat = { jobName: name, stage: input.stage };
    const stopBeating = heartbeatEvery(ctx, () => beat);
    try {
      const started = await translated(() =>
        runner.start({
          name,
          entityId: input.entityId,
          stage: input.stage,
          args: input.args,
          serviceAccount: input.serviceAccount,
          activeDeadlineSeconds: input.activeDeadlineSeconds ?? policy.stepDeadlineSeconds,
          secrets: input.secrets,
          resources: input.resources,
        }),
      );
      if (started.adopted)
        ctx.log.info('adopted existing job', { jobName: name, phase: started.status.phase });
      let done: JobStatus;
      try {
        done = await runner.wait(name, {
          signal: ctx.cancellationSignal,
          // Sent with the next beat (heartbeatEvery).
          onUpdate: (s) => {
            if (s.progress) beat.progress = s.progress;
          },
        });
      } catch (err) {
        if (!ctx.cancellationSignal.aborted) throw err;
        if (!cancelWasRequested(ctx)) throw interrupted(ctx, `step ${input.stage}`, `job ${name}`);
        await runner.cancel(name);
        throw new CancelledFailure(`step ${input.stage} cancelled; job ${name} stopped`);
      }
      const outcome = outcomeOf(done);
      const succeeded = done.phase === 'succeeded';
      // A failed try's message ends with its last lines: the store has them when the runner kept none.
      const logTail =
        done.logTail?.length || succeeded ? (done.logTail ?? []) : await tailOfStoredLog(objects, input);
      const output = succeeded && input.output ? await readJsonObject(objects, input.output) : undefined;
      const finished = output !== undefined && input.finish ? await finish(input, output) : undefined;
      const sessionStopped = succeeded && input.stopSession !== undefined;
      if (sessionStopped) await translated(() => stopSession({ name: input.stopSession! }));
      return {
        jobName: name,
        phase: done.phase === 'succeeded' ? 'succeeded' : 'failed',
        exitCode: done.exitCode,
        reason: done.reason,
        logTail,
        adopted: started.adopted,
        lost: outcome === 'lost',
        outcome,
        retryable: isRetryableOutcome(outcome),
        maxTries: policy.maxTriesPerStage,
        backoffSeconds: policy.backoffSeconds,
        ...(output !== undefined ? { output } : {}),
        ...(finished ? { finished } : {}),
        ...(sessionStopped ? { sessionStopped } : {}),
      };
    } finally {
      stopBeating();
    }
  }

  /** The entity's ending from its step's output, recorded (a retry finds it recorded: a no-op). */
  async function finish(input: RunStepInput, output: unknown): Promise<Ending | undefined> {
    const ending = endingOfStep(input.args[0] ?? '', output);
    if (!ending || !input.finish) return undefined;
    const { allowedFrom, retries } = input.finish;
    const details = endingDetails(ending, retries);
    const { to, message } = ending;
    await translated(() => store.transition({ id: input.entityId, allowedFrom, to, message, details }));
    // What the ending frees, once it is recorded (a retry gives it back again: the semaphore forgets a holder once).
    if (input.finish.release) await releaseSlot(input.finish.release);
    return { ...ending, details };
  }

  return {
    // Registered as `runStep`: an activity's registered name is recorded in every workflow history (the
    // replay fixtures in test/histories and running workflows), so it outlives the function's name.
    runStep: runStepJob,

    /** Cleanup for cancellation paths: stop a job whether or not the activity that started it is alive. */
    async cancelStep(input: { jobName: string }): Promise<void> {
      await runner.cancel(input.jobName);
    },
  };
};

/** The failed try's last lines from the store, when the runner kept none (a pod already gone). */
async function tailOfStoredLog(objects: ObjectStore, input: RunStepInput): Promise<string[]> {
  try {
    // The step program is the first argument; its chunks are under its name and this try.
    const step = input.args[0] ?? input.stage;
    return await tailOfStepLog(objects, input.category, input.entityId, { step, try: input.attempt });
  } catch {
    return [];
  }
}
