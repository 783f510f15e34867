import type { ErrorTypeName } from '../domain/errors.js';
import { DyffError, ErrorType, NON_RETRYABLE } from '../domain/errors.js';

/**
 * Exit codes of a step program. 2 means the input is wrong (spec, source, file) and a retry cannot help; the
 * activity that ran the job turns it into a non-retryable failure. 143 is the conventional code for SIGTERM.
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_INVALID_INPUT = 2;
export const EXIT_TERMINATED = 143;

/** An error in what the user gave the step: exit code 2 whatever its type. */
export function invalidInput(
  message: string,
  type: ErrorTypeName = ErrorType.InvalidSpec,
  details: Record<string, unknown> = {},
): DyffError {
  return new DyffError(type, message, { ...details, invalidInput: true });
}

export function isInvalidInput(err: unknown): boolean {
  return err instanceof DyffError && (err.details?.invalidInput === true || NON_RETRYABLE.includes(err.type));
}

export function exitCodeFor(err: unknown): number {
  return isInvalidInput(err) ? EXIT_INVALID_INPUT : EXIT_FAILED;
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
