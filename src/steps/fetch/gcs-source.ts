import * as z from 'zod';
import { ErrorType } from '../../domain/errors.js';
import type { DataSourceSpec } from '../../domain/specs.js';
import type { GcsAccess, ListOptions } from './data-listing.js';
import { invalidInput } from '../errors.js';
import { assertSafePath, matcher } from '../paths.js';
import { httpGet, withRetry } from './http.js';
import type { SourceFile } from './sources.js';

type GcsSource = Extract<DataSourceSpec, { kind: 'gcs' }>;

export const DEFAULT_GCS_ENDPOINT = 'https://storage.googleapis.com';

/** The part of a GCS JSON API object resource this step uses. */
const GcsObject = z.object({
  name: z.string(),
  size: z.coerce.number().int().nonnegative(),
  generation: z.string(),
  /** base64; absent on composite objects, which have only crc32c. */
  md5Hash: z.string().optional(),
  crc32c: z.string().optional(),
});
type GcsObject = z.infer<typeof GcsObject>;
const GcsListing = z.object({ items: z.array(GcsObject).optional(), nextPageToken: z.string().optional() });

/**
 * The objects of a `gs://` source, as files to download. The listing and the downloads go through the JSON API
 * under the step's egress policy like any other fetch (the API endpoint is the operator's: the worker's
 * configured GCS endpoint); each download names the object's generation, so a rewrite during the fetch cannot mix
 * versions, and is verified against the md5 (or, for a composite object, the crc32c) GCS records.
 */
export async function listGcsFiles(source: GcsSource, opts: ListOptions): Promise<SourceFile[]> {
  const { bucket, name } = parseGsUri(source.uri);
  const access = opts.gcs;
  const headers = await authHeaders(access);
  const base = `${access.endpoint}/storage/v1/b/${encodeURIComponent(bucket)}/o`;
  // Not every server says in a 404 whether the bucket or the object is missing: asking for the bucket does.
  const bucketMissing = async () => {
    const res = await httpGet(base.slice(0, -2), headers, opts.egress, opts.signal).catch(() => undefined);
    await res?.body?.cancel();
    return res?.status === 404;
  };
  const get = async (url: string) =>
    withRetry(
      source.uri,
      async () => {
        const res = await httpGet(url, { ...headers, accept: 'application/json' }, opts.egress, opts.signal);
        if (res.status >= 400) throw await gcsError(res, source.uri, bucket, bucketMissing);
        return (await res.json().catch(() => undefined)) as unknown;
      },
      { policy: opts.retry, log: opts.log, signal: opts.signal },
    );

  const toFile = (o: GcsObject, path: string): SourceFile => ({
    path: assertSafePath(path, `spec.source.uri ${source.uri}`),
    size: o.size,
    expected: {
      ...(o.md5Hash ? { md5: Buffer.from(o.md5Hash, 'base64').toString('hex') } : {}),
      ...(o.crc32c ? { crc32c: o.crc32c } : {}),
    },
    from: {
      kind: 'http',
      url: `${base}/${encodeURIComponent(o.name)}?alt=media&generation=${encodeURIComponent(o.generation)}`,
    },
    headers,
  });

  if (!name.endsWith('/') && name !== '') {
    if (source.include !== undefined)
      throw invalidInput(`spec.source.include: only for a prefix (a uri ending in /), not ${source.uri}`);
    const object = parse(GcsObject, await get(`${base}/${encodeURIComponent(name)}`), source.uri);
    return [toFile(object, name.split('/').pop()!)];
  }
  const included = matcher(source.include);
  const files: SourceFile[] = [];
  let pageToken: string | undefined;
  do {
    const query = new URLSearchParams({ prefix: name, ...(pageToken ? { pageToken } : {}) });
    const page = parse(GcsListing, await get(`${base}?${query}`), source.uri);
    for (const o of page.items ?? []) {
      const rel = o.name.slice(name.length);
      // Folder placeholders (`dir/`, zero bytes) that consoles create are not files.
      if (rel === '' || rel.endsWith('/') || !included(rel)) continue;
      files.push(toFile(o, rel));
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  if (files.length === 0) {
    const filter = source.include === undefined ? '' : ` matching ${JSON.stringify(source.include)}`;
    throw invalidInput(`spec.source.uri: no objects${filter} under ${source.uri}`, ErrorType.NotFound);
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

export function parseGsUri(uri: string): { bucket: string; name: string } {
  const rest = uri.slice('gs://'.length);
  const slash = rest.indexOf('/');
  return { bucket: rest.slice(0, slash), name: rest.slice(slash + 1) };
}

/**
 * The step's own Google credentials (Application Default Credentials: the data-fetcher account through Workload
 * Identity on GKE, the worker's locally). A custom endpoint (an emulator) gets none, as the GCS object store sends
 * none there.
 */
async function authHeaders(access: GcsAccess): Promise<Record<string, string>> {
  if (access.endpoint !== DEFAULT_GCS_ENDPOINT) return {};
  const { Storage } = await import('@google-cloud/storage');
  const storage = new Storage(access.projectId ? { projectId: access.projectId } : {});
  const token = await storage.authClient.getAccessToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** 404 names what is missing (GCS says whether the bucket or the object), 401/403 whose credentials lack access. */
async function gcsError(
  res: Response,
  uri: string,
  bucket: string,
  bucketMissing: () => Promise<boolean>,
): Promise<Error> {
  const body = (await res.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
  const detail = body?.error?.message ?? res.statusText;
  if (res.status === 404) {
    const what =
      /bucket/i.test(detail) || (await bucketMissing()) ? `bucket ${bucket} not found` : 'no such object';
    return invalidInput(`spec.source.uri: ${uri}: ${what} (${detail})`, ErrorType.NotFound, {
      status: 404,
    });
  }
  if (res.status === 401 || res.status === 403) {
    return invalidInput(
      `spec.source.uri: ${uri}: permission denied (HTTP ${res.status}: ${detail}); the step's Google identity (data-fetcher on GKE, the worker's credentials locally) needs roles/storage.objectViewer on bucket ${bucket}`,
      ErrorType.SourceUnavailable,
      { status: res.status },
    );
  }
  return invalidInput(
    `spec.source.uri: ${uri}: HTTP ${res.status} (${detail})`,
    ErrorType.SourceUnavailable,
    {
      status: res.status,
    },
  );
}

function parse<T>(schema: z.ZodType<T>, body: unknown, uri: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue ? `${issue.path.join('.')}: ${issue.message}` : 'not JSON';
  throw invalidInput(`${uri}: unexpected answer from the GCS API (${where})`);
}
