import * as fs from 'node:fs';
import { join } from 'node:path';
import git from 'isomorphic-git';
import type { AuditProcedureSource } from '../../domain/audit-spec.js';
import { describeSecretRef } from '../../domain/secrets.js';
import type { StepContext } from '../context.js';
import { invalidInput, transientFailure } from '../errors.js';
import { guardedGitHttp } from './git-http.js';

type GitSource = Extract<AuditProcedureSource, { kind: 'git' }>;

/**
 * Clone the repository into `dir` over HTTPS (isomorphic-git: no git binary in the image) and check out the pinned
 * commit. The token, when the spec names one, is resolved here and sent as basic auth on every request; it never
 * reaches a log, an argument or the manifest. Returns the procedure's directory inside the checkout.
 */
export async function cloneAt(ctx: StepContext, source: GitSource, dir: string): Promise<string> {
  const token = source.token ? await ctx.secrets.resolve(source.token) : undefined;
  const headers: Record<string, string> = token
    ? {
        authorization: `Basic ${Buffer.from(`${source.username ?? 'oauth2'}:${token}`).toString('base64')}`,
      }
    : {};
  const http = guardedGitHttp(ctx.sources.egress, ctx.signal);
  const where = `spec.procedure.url ${source.url}`;
  try {
    // Every branch and tag: the pinned commit may be on any of them (servers seldom serve a sha by itself).
    await git.clone({ fs, http, dir, url: source.url, headers, noCheckout: true, singleBranch: false });
  } catch (err) {
    throw gitError(err, where, source.token ? describeSecretRef(source.token) : undefined);
  }
  try {
    await git.readCommit({ fs, dir, oid: source.revision });
  } catch {
    throw invalidInput(
      `spec.procedure.revision: commit ${source.revision} is not on any branch or tag of ${source.url}`,
    );
  }
  await git.checkout({ fs, dir, ref: source.revision, force: true });
  ctx.log.info(`checked out ${source.url} at ${source.revision}`);
  return source.path ? join(dir, source.path) : dir;
}

/** isomorphic-git's failures as the step's: refused credentials and missing repositories are the user's to fix. */
function gitError(err: unknown, where: string, secret: string | undefined): Error {
  const e = err as { code?: string; data?: { statusCode?: number }; message?: string };
  const status = e.data?.statusCode;
  if (e.code === 'HttpError' && (status === 401 || status === 403)) {
    return invalidInput(
      secret
        ? `${where}: the server refused the token of spec.procedure.token (${secret}): HTTP ${status}`
        : `${where}: the server wants credentials (HTTP ${status}); set spec.procedure.token`,
    );
  }
  if (e.code === 'HttpError' && status === 404)
    return invalidInput(`${where}: no such repository (HTTP 404)`);
  if (e.code === 'HttpError' && status !== undefined && status >= 500)
    return transientFailure(`${where}: the server answered HTTP ${status}`);
  if ((err as { details?: unknown }).details) return err as Error; // the egress guard's refusal, already ours
  return transientFailure(`${where}: ${e.message ?? String(err)}`);
}
