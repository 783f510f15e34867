import * as z from 'zod';

/**
 * The audit procedure contract (docs/audits.md): a directory with `procedure.json` naming its entrypoint, a
 * Node.js program run in a sandbox with its inputs staged read-only beside it. The fetch step checks this file
 * before anything runs, so a bad procedure fails at fetch with the field named.
 */
export const PROCEDURE_FILE = 'procedure.json';

/** Inputs a procedure may ask to have staged, each from the audit's targets. */
export const PROCEDURE_INPUTS = ['dataset', 'evaluation', 'report'] as const;
export type ProcedureInput = (typeof PROCEDURE_INPUTS)[number];

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === ''), {
    error: 'expected a path inside the procedure (relative, no ..)',
  });

export const ProcedureDescriptor = z.strictObject({
  name: z.string().min(1).max(200),
  description: z.string().max(4096).optional(),
  /** The program, relative to the procedure directory: run as `node <entrypoint>`. */
  entrypoint: relativePath.refine((p) => /\.(mjs|cjs|js)$/.test(p), {
    error: 'expected a .mjs, .cjs or .js file (a Node.js program)',
  }),
  /** The procedure sends requests to the audited inference service (a session is started for it). */
  probesModel: z.boolean().default(false),
  /** What is staged under `inputs/` for it. */
  inputs: z.array(z.enum(PROCEDURE_INPUTS)).default([]),
});
export type ProcedureDescriptor = z.infer<typeof ProcedureDescriptor>;

/** `auditprocedures/<id>/manifest.json`: what was fetched, from where, and the tree's checksum. */
export interface ProcedureManifest {
  auditId: string;
  source: { kind: 'git' | 'object' | 'local'; location: string; revision?: string };
  descriptor: ProcedureDescriptor;
  files: { path: string; size: number; sha256: string }[];
  /** sha256 over the sorted `"<sha256>  <path>\n"` lines of every file (what `sha256sum` prints). */
  treeSha256: string;
  fetchedAt: string;
}

/** `auditreports/<id>/.dyff/audit.json`: how the procedure run ended and what it wrote. */
export interface AuditRunRecord {
  auditId: string;
  procedure: { name: string; treeSha256: string };
  exitCode: number;
  files: string[];
  inputs: string[];
  endpoint?: string;
  durationMs: number;
}
