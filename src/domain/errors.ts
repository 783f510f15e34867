/**
 * Failure type names. Activities throw ApplicationFailure with one of these types; workflow retry policies and
 * callers match on the name, so they are part of the public surface.
 */
export const ErrorType = {
  InvalidSpec: 'InvalidSpec',
  InvalidTransition: 'InvalidTransition',
  NotFound: 'NotFound',
  AlreadyExists: 'AlreadyExists',
  StepFailed: 'StepFailed',
  JobLost: 'JobLost',
  ChecksumMismatch: 'ChecksumMismatch',
  SourceUnavailable: 'SourceUnavailable',
  ManifestMismatch: 'ManifestMismatch',
  /** An object-store call outside the caller's grants (step catalogue), with `storage.enforceGrants` on. */
  AccessDenied: 'AccessDenied',
} as const;
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Failures no retry can fix. */
export const NON_RETRYABLE: readonly ErrorTypeName[] = [
  ErrorType.InvalidSpec,
  ErrorType.InvalidTransition,
  ErrorType.NotFound,
  ErrorType.StepFailed,
  ErrorType.ChecksumMismatch,
  ErrorType.ManifestMismatch,
  ErrorType.AccessDenied,
];

/** An error that carries its failure type name; adapters and steps throw these. */
export class DyffError extends Error {
  constructor(
    readonly type: ErrorTypeName,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = type;
  }
}
