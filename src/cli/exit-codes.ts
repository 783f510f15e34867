import { DyffError, ErrorType } from '../domain/errors.js';

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

export function exitCodeFor(err: unknown): number {
  if (err instanceof DyffError) {
    switch (err.type) {
      case ErrorType.InvalidSpec:
        return ExitCode.InvalidInput;
      case ErrorType.NotFound:
        return ExitCode.NotFound;
      case ErrorType.SourceUnavailable:
        return ExitCode.Unavailable;
      default:
        return ExitCode.EntityFailed;
    }
  }
  return ExitCode.EntityFailed;
}
