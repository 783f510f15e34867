import { ApplicationFailure } from '@temporalio/common';
import type { Context } from '@temporalio/activity';
import { ErrorType } from '../domain/errors.js';
import type { JobOutcome } from '../domain/job-outcome.js';
import type { JobStatus } from '../ports/job-runner.js';

/** How steps are retried and bounded; the worker fills it from config (`retries.*`, `limits.stepDeadlineSeconds`). */
export interface StepPolicy {
  /** @default 3 */
  maxTriesPerStage: number;
  /** @default 5 */
  backoffSeconds: number;
  /** @default 6 h */
  stepDeadlineSeconds: number;
}

export const DEFAULT_STEP_POLICY: StepPolicy = {
  maxTriesPerStage: 3,
  backoffSeconds: 5,
  stepDeadlineSeconds: 6 * 3600,
};

/**
 * Heartbeat this often whatever the runner reports: a runner that reports only on change (a Deployment that
 * does not move, a job printing nothing) must not let the activity's heartbeat timeout pass.
 */
export const HEARTBEAT_EVERY_MS = 3000;

/**
 * Heartbeat `details()` on a timer until the returned function is called. The first beat comes after one period,
 * not at once: most steps of a run end sooner, and a beat is a call to the server and a write of the run's state
 * there (one per step activity, the largest part of a pipeline's server work that the skeleton of the same shape
 * does not have, as `bench:lifecycle`'s profile showed). Details that change in between (progress, a session's
 * phase) are sent with the next beat; a requested cancel reaches the activity with a beat, so within one period.
 */
export function heartbeatEvery(ctx: Context, details: () => unknown): () => void {
  const timer = setInterval(() => ctx.heartbeat(details()), HEARTBEAT_EVERY_MS);
  return () => clearInterval(timer);
}

/*
 * An activity is aborted for several reasons, and only one of them means "stop the work": a cancel the workflow
 * requested. A heartbeat timeout, a worker shutdown, an activity the server no longer knows (it was down), a
 * pause or a reset leave the job or session running, so that the next attempt adopts it.
 */
export function cancelWasRequested(ctx: Context): boolean {
  return ctx.cancellationDetails?.cancelRequested === true;
}

/** The failure that ends an interrupted (not cancelled) attempt: retryable, naming why and what was kept. */
export function interrupted(ctx: Context, what: string, kept: string): ApplicationFailure {
  const d = ctx.cancellationDetails;
  const why = d?.workerShutdown
    ? 'worker shutting down'
    : d?.timedOut
      ? 'heartbeat timed out'
      : d?.notFound
        ? 'the server no longer knows this attempt'
        : d?.paused
          ? 'paused'
          : d?.reset
            ? 'reset'
            : 'aborted';
  return ApplicationFailure.retryable(
    `${what} interrupted (${why}); ${kept} left running for the next attempt`,
    ErrorType.Interrupted,
  );
}

/**
 * The typed ending of a job `wait` returned. Every finished JobStatus carries one (the port's type says so), so
 * nothing reads an ending from the wording of a reason; a status that is not finished is a runner's bug.
 */
export function outcomeOf(status: JobStatus): JobOutcome {
  if (status.outcome === undefined)
    throw new Error(`job ${status.name} was returned as finished while ${status.phase}`);
  return status.outcome;
}
