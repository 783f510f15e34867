import * as z from 'zod';
import { ErrorType } from '../../domain/errors.js';
import type { DataSourceSpec } from '../../domain/specs.js';
import { invalidInput } from '../errors.js';
import { assertSafePath } from '../paths.js';
import type { DataListing, ListOptions } from './data-listing.js';
import { repoFileFilter } from './fnmatch.js';
import type { HubAccess } from './hub-access.js';
import { hubAuthHeaders, hubError, resolveUrl } from './hub-access.js';
import { httpGet, withRetry } from './http.js';
import type { SourceFile } from './sources.js';

type HubDatasetSource = Extract<DataSourceSpec, { kind: 'huggingFaceHub' }>;

/** What ingest reads (Parquet, CSV/TSV, JSON, JSON Lines, compressed or not): the default selection. */
const DATA_FILE = /\.(parquet|csv|tsv|json|jsonl|ndjson)(\.(gz|zst))?$/i;

/** `GET /api/datasets/<repo>/revision/<rev>`: only the commit it resolves to is used. */
const RevisionInfo = z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) });

/** One entry of `GET /api/datasets/<repo>/tree/<commit>?recursive=true`. */
const TreeEntry = z.object({
  type: z.string(),
  path: z.string(),
  size: z.number().int().nonnegative(),
  lfs: z.object({ oid: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() }).optional(),
});

/** The dataset's path on the Hub, `datasets/<owner>/<name>`, whether the spec wrote the prefix or not. */
export const datasetRepoPath = (repoID: string) =>
  repoID.startsWith('datasets/') ? repoID : `datasets/${repoID}`;

/**
 * The data files of a Hub dataset at one commit: the revision is resolved first and the tree listed and
 * downloaded at that commit, so a branch that moves during the fetch cannot mix two versions. LFS files (the
 * Parquet files of most datasets) are verified against the sha256 the tree lists.
 */
export async function listHubDatasetFiles(
  source: HubDatasetSource,
  access: HubAccess,
  opts: ListOptions,
): Promise<DataListing> {
  const repo = datasetRepoPath(source.repoID);
  const what = `huggingFaceHub ${repo}@${source.revision}`;
  const headers = hubAuthHeaders(access);
  const getJson = (url: string) =>
    withRetry(
      what,
      async () => {
        const res = await httpGet(url, { ...headers, accept: 'application/json' }, opts.egress, opts.signal);
        if (res.status >= 400) throw await hubError(res, what, access);
        return { body: (await res.json().catch(() => undefined)) as unknown, link: res.headers.get('link') };
      },
      { policy: opts.retry, log: opts.log, signal: opts.signal },
    );

  const api = `${access.endpoint}/api/${repo}`;
  const info = await getJson(`${api}/revision/${encodeURIComponent(source.revision)}`);
  const { sha: commit } = parse(RevisionInfo, info.body, what, access);
  const entries: z.infer<typeof TreeEntry>[] = [];
  // The tree comes in pages, the next one named by a `Link: <…>; rel="next"` header.
  for (let url: string | undefined = `${api}/tree/${commit}?recursive=true&expand=false`; url;) {
    const page = await getJson(url);
    entries.push(...parse(z.array(TreeEntry), page.body, what, access));
    url = nextLink(page.link, access.endpoint, what);
  }

  const keep = source.allowPatterns
    ? repoFileFilter(source.allowPatterns, source.ignorePatterns)
    : (p: string) => DATA_FILE.test(p) && repoFileFilter(undefined, source.ignorePatterns)(p);
  const blobs = entries.filter((e) => e.type === 'file');
  const files = blobs
    .filter((e) => keep(e.path))
    .map((e): SourceFile => {
      const path = assertSafePath(e.path, what);
      return {
        path,
        size: e.lfs?.size ?? e.size,
        expected: e.lfs ? { sha256: e.lfs.oid } : {},
        from: { kind: 'http', url: resolveUrl(access, repo, commit, path) },
        headers,
      };
    })
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  if (files.length === 0) {
    const patterns = source.allowPatterns
      ? JSON.stringify({ allowPatterns: source.allowPatterns, ignorePatterns: source.ignorePatterns })
      : 'the data file types (Parquet, CSV/TSV, JSON, JSON Lines); set allowPatterns';
    throw invalidInput(`${what}: no file of ${blobs.length} matches ${patterns}`, ErrorType.NotFound);
  }
  return { files, commit };
}

function nextLink(link: string | null, endpoint: string, what: string): string | undefined {
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link ?? '');
  if (!m) return undefined;
  const next = new URL(m[1]!, endpoint);
  // The token goes with every page: a page elsewhere is refused (stopping short would fetch part of the dataset).
  if (next.origin !== new URL(endpoint).origin)
    throw invalidInput(`${what}: the file listing continues on another host (${next.origin}); refusing`);
  return next.href;
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string, access: HubAccess): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue ? `${issue.path.join('.')}: ${issue.message}` : 'not JSON';
  throw invalidInput(`${what}: unexpected answer from ${access.endpoint} (${where})`);
}
