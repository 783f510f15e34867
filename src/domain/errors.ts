/**
 * Failure type names: the one vocabulary of failures. Activities throw ApplicationFailure with one of these types;
 * workflow retry policies and callers match on the name, so they are part of the public surface. How a failure
 * reads as an exit code is not said here: steps (steps/errors.ts) and the CLI (cli/exit-codes.ts) each map every
 * name, with their own codes.
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
  /** The Kubernetes API refused the worker (HTTP 401/403): its RBAC is missing something. */
  PermissionDenied: 'PermissionDenied',
  /** The Kubernetes API rejected an object as invalid (HTTP 422). */
  InvalidObject: 'InvalidObject',
  /** Datastore rejected a request (INVALID_ARGUMENT): an entity over its limits or a malformed key. */
  InvalidArgument: 'InvalidArgument',
  /** A payload over Temporal's size limit. */
  PayloadTooLarge: 'PayloadTooLarge',
  /** An activity attempt aborted without a cancel (worker shutdown, heartbeat timeout): the next attempt adopts. */
  Interrupted: 'Interrupted',
  /** The worker lacks an adapter the activity needs (e.g. no session runner). */
  NotConfigured: 'NotConfigured',
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
