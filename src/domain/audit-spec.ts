import * as z from 'zod';
import { SecretRef } from './secrets.js';
import { deadlineSeconds, entityId } from './spec-fields.js';

/** The most a spec's `parameters` may weigh as JSON: they travel in the spec, the history and the job's args. */
export const MAX_AUDIT_PARAMETER_BYTES = 16_384;

/**
 * Where an audit procedure comes from (docs/audits.md): a Git repository at a pinned commit (over HTTPS, the token
 * by reference), objects already in the `auditprocedures` bucket, or a directory under `sources.localRoots`.
 */
export const AuditProcedureSource = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('git'),
    url: z.string({ error: 'expected an https:// URL' }).refine((s) => /^https:\/\/[^\s/@]+\/\S+$/.test(s), {
      error: 'expected an https:// URL without credentials in it (the token goes in `token`)',
    }),
    /** A full commit sha: a branch or tag can move, and an audit must say exactly what ran. */
    revision: z.string().regex(/^[0-9a-f]{40}$/, {
      error: 'expected a full commit sha (40 lowercase hex digits), not a branch or tag',
    }),
    /** The procedure's directory inside the repository. @default the repository root */
    path: z.string().min(1).optional(),
    /** An access token, by reference; sent as the password of HTTP basic auth. */
    token: SecretRef.optional(),
    /** @default oauth2 (GitLab tokens take any user name; GitHub wants x-access-token) */
    username: z.string().min(1).max(100).optional(),
  }),
  z.strictObject({
    kind: z.literal('object'),
    /** A top-level folder of the `auditprocedures` bucket, ending in `/` (`spam-robustness/`). */
    prefix: z.string().regex(/^[A-Za-z0-9][\w.-]*\/$/, {
      error: 'expected one top-level folder of auditprocedures, ending in / (e.g. spam-robustness/)',
    }),
  }),
  z.strictObject({
    kind: z.literal('local'),
    /** A directory; relative paths resolve against the spec file's directory. */
    path: z.string().min(1),
  }),
]);
export type AuditProcedureSource = z.infer<typeof AuditProcedureSource>;

export const AuditSpec = z
  .strictObject({
    procedure: AuditProcedureSource,
    /** The service the procedure may probe: its session is started for the run when the procedure asks for it. */
    inferenceService: entityId.optional(),
    /** An evaluation whose verified outputs (and dataset) are staged as inputs. */
    evaluation: entityId.optional(),
    /** A report whose report.json is staged as an input. */
    report: entityId.optional(),
    /** A dataset whose rows are staged as an input (an evaluation's dataset is staged without it). */
    dataset: entityId.optional(),
    /** Free-form settings handed to the procedure as `parameters.json`. */
    parameters: z
      .record(z.string(), z.unknown())
      .refine((p) => JSON.stringify(p).length <= MAX_AUDIT_PARAMETER_BYTES, {
        error: `larger than ${MAX_AUDIT_PARAMETER_BYTES} bytes as JSON`,
      })
      .default({}),
    /** For each of the fetch-procedure and run-audit steps. */
    deadlineSeconds,
  })
  .refine((s) => s.inferenceService || s.evaluation || s.report || s.dataset, {
    error: 'an audit needs a target: inferenceService, evaluation, report or dataset',
  });
export type AuditSpec = z.infer<typeof AuditSpec>;
