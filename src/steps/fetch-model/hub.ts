import * as z from 'zod';
import { ErrorType } from '../../domain/errors.js';
import type { ModelSpec } from '../../domain/specs.js';
import type { RetryPolicy, StepLog } from '../context.js';
import { invalidInput } from '../errors.js';
import { httpGet, withRetry } from '../fetch/http.js';
import type { EgressPolicy } from '../net/egress-guard.js';
import { assertSafePath } from '../paths.js';
import { repoFileFilter } from '../fetch/fnmatch.js';
import type { HubAccess } from '../fetch/hub-access.js';
import { hubAuthHeaders, hubError, resolveUrl } from '../fetch/hub-access.js';
import type { ModelSourceFile } from './sources.js';

type HubSource = Extract<ModelSpec['source'], { kind: 'huggingFaceHub' }>;

/** The part of `GET /api/models/<repo>/revision/<rev>?blobs=true` this step uses. */
const HubModelInfo = z.object({
  sha: z.string().min(1),
  siblings: z.array(
    z.object({
      rfilename: z.string(),
      size: z.number().int().nonnegative().optional(),
      lfs: z
        .object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() })
        .optional(),
    }),
  ),
});

export interface HubListing {
  /** The commit the revision resolved to: files are downloaded from it, so a moving branch cannot mix commits. */
  commit: string;
  files: ModelSourceFile[];
}

interface ListOptions {
  access: HubAccess;
  egress: EgressPolicy;
  log: StepLog;
  retry: RetryPolicy;
  signal?: AbortSignal;
}

export async function listHubFiles(source: HubSource, opts: ListOptions): Promise<HubListing> {
  const { endpoint } = opts.access;
  const headers = hubAuthHeaders(opts.access);
  const what = `huggingFaceHub ${source.repoID}@${source.revision}`;
  const url = `${endpoint}/api/models/${source.repoID}/revision/${encodeURIComponent(source.revision)}?blobs=true`;
  const body = await withRetry(
    what,
    async () => {
      const res = await httpGet(url, { ...headers, accept: 'application/json' }, opts.egress, opts.signal);
      if (res.status >= 400) throw await hubError(res, what, opts.access);
      return (await res.json().catch(() => undefined)) as unknown;
    },
    { policy: opts.retry, log: opts.log, signal: opts.signal },
  );
  const parsed = HubModelInfo.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidInput(
      `${what}: unexpected answer from ${endpoint} (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'not JSON'})`,
    );
  }
  const keep = repoFileFilter(source.allowPatterns, source.ignorePatterns);
  const { sha, siblings } = parsed.data;
  const files = siblings
    .filter((s) => keep(s.rfilename))
    .map((s): ModelSourceFile => {
      const path = assertSafePath(s.rfilename, what);
      return {
        path,
        size: s.lfs?.size ?? s.size,
        expected: { sha256: s.lfs?.sha256 },
        from: { kind: 'http', url: resolveUrl(opts.access, source.repoID, sha, path) },
        headers,
        describe: `${what}: ${path}`,
      };
    });
  if (files.length === 0) {
    const patterns = JSON.stringify({
      allowPatterns: source.allowPatterns,
      ignorePatterns: source.ignorePatterns,
    });
    throw invalidInput(`${what}: no file of ${siblings.length} matches ${patterns}`, ErrorType.NotFound);
  }
  return { commit: sha, files };
}
