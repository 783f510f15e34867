/**
 * How a step's job ended, typed, so that the workflow decides "new try" or "fail now" on a fact the runner saw
 * instead of on the wording of a reason. Runners set it; `exitOutcome` is the shared reading of an exit code.
 */
export const JOB_OUTCOMES = [
  'succeeded',
  /** The step reported a failure a retry will not fix (bad input, a bug, a checksum mismatch). */
  'failed',
  /** The step said the failure is transient (exit code 75, EX_TEMPFAIL: a network error, a 5xx that persisted). */
  'transient',
  /** The job vanished without an exit code: its process or pod was removed from outside, or the node restarted. */
  'lost',
  /** The step process was killed by a signal (exit code > 128) that nobody here sent. */
  'signal',
  'oom',
  'evicted',
  /** The node went away under the pod (spot preemption, a drain): the pod's DisruptionTarget condition. */
  'preempted',
  /** The job ran longer than its deadline (`activeDeadlineSeconds`). */
  'deadline',
  /** Stopped on request. */
  'cancelled',
] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];
/** The endings of a failed job: every outcome but success. */
export type FailedOutcome = Exclude<JobOutcome, 'succeeded'>;
/** A failed job's outcome and the words for it, as runners report them. */
export interface JobEnding {
  outcome: FailedOutcome;
  reason: string;
}

/** Endings a new try (a new job) can fix. A deadline counts: a step that hung once usually finishes the next time. */
const RETRYABLE: ReadonlySet<JobOutcome> = new Set([
  'transient',
  'lost',
  'signal',
  'oom',
  'evicted',
  'preempted',
  'deadline',
]);

export function isRetryableOutcome(outcome: JobOutcome): boolean {
  return RETRYABLE.has(outcome);
}

/** Exit codes with a meaning across runners. 75 is sysexits' EX_TEMPFAIL: "try again later". */
export const EXIT_INVALID_INPUT = 2;
export const EXIT_TEMPFAIL = 75;

/** What an exit code says about the ending: > 128 is 128 + the number of the signal that killed the process. */
export function exitOutcome(code: 0): 'succeeded';
export function exitOutcome(code: number): JobOutcome;
export function exitOutcome(code: number): JobOutcome {
  return code === 0 ? 'succeeded' : failedExitOutcome(code);
}

/** What a non-zero exit code says about the ending. */
export function failedExitOutcome(code: number): FailedOutcome {
  if (code === EXIT_TEMPFAIL) return 'transient';
  if (code > 128) return 'signal';
  return 'failed';
}
