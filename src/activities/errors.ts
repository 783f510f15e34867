import { ApplicationFailure } from '@temporalio/common';
import type { ErrorTypeName } from '../domain/errors.js';
import { DyffError, ErrorType, NON_RETRYABLE } from '../domain/errors.js';

/** Adapter errors become ApplicationFailures whose type a retry policy can match; unknown errors stay retryable. */
export function toFailure(err: unknown): unknown {
  if (err instanceof DyffError) {
    return ApplicationFailure.create({
      type: err.type,
      message: err.message,
      nonRetryable: NON_RETRYABLE.includes(err.type),
      details: err.details ? [err.details] : undefined,
      cause: err,
    });
  }
  return unfixable(err) ?? err;
}

export async function translated<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}

/** gRPC status 3: the request itself is wrong (Datastore: a bad key, an entity or property over its limits). */
const GRPC_INVALID_ARGUMENT = 3;

/*
 * Backend answers that no retry changes: retrying them only delays the failure by the whole retry schedule. Each
 * becomes a non-retryable failure whose message says what to fix.
 */
function unfixable(err: unknown): ApplicationFailure | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as Error & { code?: unknown; statusCode?: unknown; body?: unknown };
  const http = typeof e.code === 'number' && e.code >= 400 ? e.code : e.statusCode;
  const detail = oneLine(typeof e.body === 'string' ? e.body : e.message);
  if (http === 401 || http === 403) {
    return fail(
      ErrorType.PermissionDenied,
      `the Kubernetes API refused the request (HTTP ${http}): ${detail}; grant the worker's service account the ` +
        'Role in k8s/ (jobs, pods, pods/log, deployments, services, events in the namespace)',
      err,
    );
  }
  if (http === 422) {
    return fail(
      ErrorType.InvalidObject,
      `the Kubernetes API rejected the object as invalid (HTTP 422): ${detail}; fix the runner settings or ` +
        'the step resources named there',
      err,
    );
  }
  if (e.code === GRPC_INVALID_ARGUMENT && /datastore|entity|key|property/i.test(e.message)) {
    return fail(
      ErrorType.InvalidArgument,
      `Datastore rejected the request (INVALID_ARGUMENT): ${detail}; an entity or property is over Datastore's ` +
        'limits (1 MiB per entity, 1500 bytes per indexed value) or a key is malformed',
      err,
    );
  }
  if (/larger than max|exceeds? (the )?size limit|BlobSizeLimit|payload.*too large/i.test(e.message)) {
    return fail(
      ErrorType.PayloadTooLarge,
      `a payload is over Temporal's size limit (2 MiB): ${detail}; keep data in the object store and pass its URI`,
      err,
    );
  }
  return undefined;
}

function fail(type: ErrorTypeName, message: string, cause: Error): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, cause });
}

const oneLine = (s: string) =>
  s
    .trim()
    .replace(/\s*\n\s*/g, ' ')
    .slice(0, 500);
