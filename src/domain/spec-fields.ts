import * as z from 'zod';

/** The fields entity specs share, and the error wording every spec schema uses. */

// A missing field reads "required" rather than zod's "expected string, received undefined".
z.config({
  customError: (iss) => (iss.input === undefined && iss.code === 'invalid_type' ? 'required' : undefined),
});

export const httpUrl = z
  .string({ error: 'expected a URL string' })
  .refine((s) => /^https?:\/\/[^\s/]+/.test(s), { error: 'expected http(s) URL' });
export const hex = (n: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), { error: `expected ${n} lowercase hex digits` });
/** A Kubernetes resource quantity: `500m`, `2`, `512Mi`, `16Gi`. */
export const k8sQuantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, {
  error: 'expected a quantity such as 500m, 2, 512Mi or 16Gi',
});

export const entityId = hex(32);
export const labels = z.record(
  z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9_./]{0,61}[A-Za-z0-9])?$/, { error: 'invalid label key' }),
  z.string().max(63),
);

export const Checksums = z.strictObject({ md5: hex(32).optional(), sha256: hex(64).optional() });

/** The longest a spec may let one try of a step run: a week, past any step's real need. */
export const MAX_STEP_DEADLINE_SECONDS = 7 * 24 * 3600;

/**
 * `deadlineSeconds` on a step-bearing spec: overrides the worker's `limits.stepDeadlineSeconds` for each try of
 * this entity's steps (the Job's `activeDeadlineSeconds`, the local process's deadline). A try past it ends with
 * the outcome `deadline` and is tried again, up to `retries.maxTriesPerStage`.
 */
export const deadlineSeconds = z
  .number({ error: 'expected a whole number of seconds' })
  .int({ error: 'expected a whole number of seconds' })
  .min(1, { error: 'must be at least 1' })
  .max(MAX_STEP_DEADLINE_SECONDS, { error: `must be at most ${MAX_STEP_DEADLINE_SECONDS} (7 days)` })
  .optional();
