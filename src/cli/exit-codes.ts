import type { ErrorTypeName } from '../domain/errors.js';
import { DyffError } from '../domain/errors.js';

/** Exit codes scripts can rely on. */
export const ExitCode = {
  Ok: 0,
  /** The entity ended Error, Failed or Terminated. */
  EntityFailed: 1,
  /** Bad usage, bad spec or bad config: fix the input. */
  InvalidInput: 2,
  NotFound: 3,
  /** Temporal (or a backend) could not be reached. */
  Unavailable: 4,
  Interrupted: 130,
} as const;

/**
 * dyffctl's exit code for each failure type, for scripts: what to fix (the input), what is missing, what could not
 * be reached, and everything else as a failure. Every type is listed, so a new one must be placed.
 */
export const CLI_EXIT_CODES: Readonly<Record<ErrorTypeName, number>> = {
  InvalidSpec: ExitCode.InvalidInput,
  InvalidTransition: ExitCode.EntityFailed,
  NotFound: ExitCode.NotFound,
  AlreadyExists: ExitCode.EntityFailed,
  StepFailed: ExitCode.EntityFailed,
  JobLost: ExitCode.EntityFailed,
  ChecksumMismatch: ExitCode.EntityFailed,
  SourceUnavailable: ExitCode.Unavailable,
  ManifestMismatch: ExitCode.EntityFailed,
  AccessDenied: ExitCode.EntityFailed,
  PermissionDenied: ExitCode.EntityFailed,
  InvalidObject: ExitCode.EntityFailed,
  InvalidArgument: ExitCode.EntityFailed,
  PayloadTooLarge: ExitCode.EntityFailed,
  Interrupted: ExitCode.EntityFailed,
  NotConfigured: ExitCode.EntityFailed,
};

export function cliExitCode(err: unknown): number {
  return err instanceof DyffError ? CLI_EXIT_CODES[err.type] : ExitCode.EntityFailed;
}
