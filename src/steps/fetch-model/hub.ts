import { z } from 'zod';
import { ErrorType } from '../../domain/errors.js';
import type { ModelSpec } from '../../domain/specs.js';
import type { RetryPolicy, StepLog } from '../context.js';
import { invalidInput } from '../errors.js';
import { httpGet, withRetry } from '../fetch/http.js';
import type { EgressPolicy } from '../net/egress-guard.js';
import { assertSafePath } from '../paths.js';
import { repoFileFilter } from './fnmatch.js';
import type { ModelSourceFile } from './sources.js';

type HubSource = Extract<ModelSpec['source'], { kind: 'huggingFaceHub' }>;

/** Where the Hub is and who we are to it. Taken from the environment, never from a spec (specs are stored). */
export interface HubAccess {
  /** `HF_ENDPOINT`. @default https://huggingface.co */
  endpoint: string;
  /** `HF_TOKEN`, sent as `Authorization: Bearer`. */
  token?: string;
}

export function hubAccessFromEnv(env: NodeJS.ProcessEnv = process.env): HubAccess {
  return {
    endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''),
    token: env.HF_TOKEN || undefined,
  };
}

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
  const headers = authHeaders(opts.access);
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
      const encoded = path.split('/').map(encodeURIComponent).join('/');
      return {
        path,
        size: s.lfs?.size ?? s.size,
        expected: { sha256: s.lfs?.sha256 },
        from: { kind: 'http', url: `${endpoint}/${source.repoID}/resolve/${sha}/${encoded}` },
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

const authHeaders = (access: HubAccess): Record<string, string> =>
  access.token ? { authorization: `Bearer ${access.token}` } : {};

/**
 * The Hub answers 401 both for a private or gated repo without a token and for a repo that does not exist (so
 * as not to reveal which); its `X-Error-Message` header says more. Either way the user must fix something.
 */
export async function hubError(res: Response, what: string, access: HubAccess): Promise<Error> {
  await res.body?.cancel();
  const detail = res.headers.get('x-error-message');
  const hint =
    res.status === 401 || res.status === 403
      ? access.token
        ? 'not found, or HF_TOKEN has no access to it'
        : 'not found, private or gated: set HF_TOKEN to a token with access'
      : res.status === 404
        ? 'not found'
        : res.statusText;
  const type = res.status === 404 || res.status === 401 ? ErrorType.NotFound : ErrorType.SourceUnavailable;
  return invalidInput(`${what}: HTTP ${res.status} (${detail ?? hint})`, type, { status: res.status });
}
