import { ApplicationFailure } from '@temporalio/common';
import { DyffError, NON_RETRYABLE } from '../domain/errors.js';

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
  return err;
}

export async function translated<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}
