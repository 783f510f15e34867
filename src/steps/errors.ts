import type { ErrorTypeName } from '../domain/errors.js';
import { DyffError, ErrorType } from '../domain/errors.js';
import { EXIT_INVALID_INPUT, EXIT_TEMPFAIL } from '../domain/job-outcome.js';

/**
 * Exit codes of a step program. 2 means the input is wrong (spec, source, file) and a retry cannot help; the
 * activity that ran the job turns it into a non-retryable failure. 75 (EX_TEMPFAIL) means the failure is
 * transient (the network, a source answering 5xx for longer than the step's own retries): the workflow starts a
 * new try. 143 is the conventional code for SIGTERM.
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export { EXIT_INVALID_INPUT, EXIT_TEMPFAIL };
export const EXIT_TERMINATED = 143;

/** An error in what the user gave the step: exit code 2 whatever its type. */
export function invalidInput(
  message: string,
  type: ErrorTypeName = ErrorType.InvalidSpec,
  details: Record<string, unknown> = {},
): DyffError {
  return new DyffError(type, message, { ...details, invalidInput: true });
}

/** A failure a later try may not meet: exit code 75, so the workflow runs the step again (bounded). */
export function transientFailure(
  message: string,
  type: ErrorTypeName = ErrorType.SourceUnavailable,
  details: Record<string, unknown> = {},
): DyffError {
  return new DyffError(type, message, { ...details, transient: true });
}

export function isTransient(err: unknown): boolean {
  return err instanceof DyffError && err.details?.transient === true;
}

/**
 * The step programs' exit code for each failure type: 2 for the failures no retry can fix (NON_RETRYABLE: the
 * input, or what was made from it, is wrong), 1 for the rest. Every type is listed, so a new one must be placed.
 */
export const STEP_EXIT_CODES: Readonly<Record<ErrorTypeName, number>> = {
  InvalidSpec: EXIT_INVALID_INPUT,
  InvalidTransition: EXIT_INVALID_INPUT,
  NotFound: EXIT_INVALID_INPUT,
  AlreadyExists: EXIT_FAILED,
  StepFailed: EXIT_INVALID_INPUT,
  JobLost: EXIT_FAILED,
  ChecksumMismatch: EXIT_INVALID_INPUT,
  SourceUnavailable: EXIT_FAILED,
  ManifestMismatch: EXIT_INVALID_INPUT,
  AccessDenied: EXIT_INVALID_INPUT,
  PermissionDenied: EXIT_FAILED,
  InvalidObject: EXIT_FAILED,
  InvalidArgument: EXIT_FAILED,
  PayloadTooLarge: EXIT_FAILED,
  Interrupted: EXIT_FAILED,
  NotConfigured: EXIT_FAILED,
};

/** A step's exit code for what it threw: input the user must fix (by flag or type), then transient, then the type. */
export function stepExitCode(err: unknown): number {
  if (!(err instanceof DyffError)) return EXIT_FAILED;
  const byType = STEP_EXIT_CODES[err.type];
  if (err.details?.invalidInput === true || byType === EXIT_INVALID_INPUT) return EXIT_INVALID_INPUT;
  return isTransient(err) ? EXIT_TEMPFAIL : byType;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The errno-style code of an error or of its `cause` chain (undici wraps socket errors). */
export function errorCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}
