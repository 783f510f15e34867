import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as z from 'zod';
import { ErrorType } from '../../domain/errors.js';
import type { DataSourceSpec } from '../../domain/specs.js';
import type { RetryPolicy, StepLog } from '../context.js';
import { invalidInput } from '../errors.js';
import type { EgressPolicy } from '../net/egress-guard.js';
import { assertSafePath, matcher } from '../paths.js';
import { httpGet, rejectClientError, withRetry } from './http.js';
import { resolveLocalSource } from './local-roots.js';

/** One file a source offers, before it is fetched. */
export interface SourceFile {
  /** Relative path in the dataset (safe: no traversal). */
  path: string;
  /** Known up front for Zenodo and local files. */
  size?: number;
  /** What the source says the content hashes to; verified after download. crc32c is GCS's base64 form. */
  expected: { md5?: string; sha256?: string; crc32c?: string };
  from: { kind: 'http'; url: string } | { kind: 'local'; file: string };
  /** Sent with the download, e.g. a token (not on to another origin on a redirect). */
  headers?: Record<string, string>;
}

/** The sources this file lists; gs:// and the Hub have modules of their own (see data-listing.ts). */
export type FileSource = Extract<DataSourceSpec, { kind: 'url' | 'zenodo' | 'local' }>;

interface ListOptions {
  /** Directories local sources may read from (see local-roots.ts). */
  localRoots: readonly string[];
  egress: EgressPolicy;
  log: StepLog;
  retry: RetryPolicy;
  signal?: AbortSignal;
}

export async function listSourceFiles(source: FileSource, opts: ListOptions): Promise<SourceFile[]> {
  switch (source.kind) {
    case 'url':
      return [urlFile(source)];
    case 'zenodo':
      return zenodoFiles(source.record, (source.server ?? 'https://zenodo.org').replace(/\/+$/, ''), opts);
    case 'local':
      return localFiles(source.path, source.include, opts.localRoots);
  }
}

function urlFile(source: Extract<DataSourceSpec, { kind: 'url' }>): SourceFile {
  const lastSegment = decodeURIComponent(new URL(source.url).pathname.split('/').pop() ?? '');
  const path = source.fileName ?? lastSegment;
  if (path === '') {
    throw invalidInput(`spec.source.fileName: cannot take a file name from ${source.url}; set fileName`);
  }
  assertSafePath(path, source.fileName ? 'spec.source.fileName' : `spec.source.url ${source.url}`);
  return { path, expected: { ...source.checksum }, from: { kind: 'http', url: source.url } };
}

/** The part of Zenodo's `GET /api/records/<id>` answer this step uses. */
const ZenodoRecord = z.object({
  files: z.array(
    z.object({
      key: z.string(),
      size: z.number().int().nonnegative(),
      checksum: z.string().regex(/^md5:[0-9a-f]{32}$/),
      links: z.object({ self: z.string() }),
    }),
  ),
});

async function zenodoFiles(record: string, server: string, opts: ListOptions): Promise<SourceFile[]> {
  const url = `${server}/api/records/${record}`;
  const body = await withRetry(
    `zenodo record ${record}`,
    async () => {
      const res = await httpGet(url, { accept: 'application/json' }, opts.egress, opts.signal);
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel();
        throw invalidInput(`zenodo record ${record} not found at ${server}`, ErrorType.NotFound, { url });
      }
      await rejectClientError(res, url);
      return (await res.json().catch(() => undefined)) as unknown;
    },
    { policy: opts.retry, log: opts.log, signal: opts.signal },
  );
  const parsed = ZenodoRecord.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.')}: ${issue.message}` : 'not JSON';
    throw invalidInput(`zenodo record ${record} at ${server}: unexpected answer (${where})`);
  }
  if (parsed.data.files.length === 0) {
    throw invalidInput(
      `zenodo record ${record} at ${server} has no files (restricted or empty record?)`,
      ErrorType.NotFound,
    );
  }
  return parsed.data.files.map((f) => ({
    path: assertSafePath(f.key, `zenodo record ${record}`),
    size: f.size,
    expected: { md5: f.checksum.slice('md5:'.length) },
    from: { kind: 'http', url: new URL(f.links.self, server).href },
  }));
}

async function localFiles(
  path: string,
  include: string | undefined,
  roots: readonly string[],
): Promise<SourceFile[]> {
  const { real: root, info } = await resolveLocalSource(path, roots);
  if (info.isFile()) {
    return [{ path: basename(path), size: info.size, expected: {}, from: { kind: 'local', file: root } }];
  }
  const included = matcher(include);
  const files: SourceFile[] = [];
  for (const rel of await walk(root, '')) {
    if (!included(rel)) continue;
    // A symlink inside the folder is followed only where the roots allow, and to a regular file.
    const { real, info: f } = await resolveLocalSource(join(root, rel), roots, `spec.source.path ${rel}`);
    files.push({
      path: assertSafePath(rel, path),
      size: f.size,
      expected: {},
      from: { kind: 'local', file: real },
    });
  }
  if (files.length === 0) {
    const filter = include === undefined ? '' : ` matching ${JSON.stringify(include)}`;
    throw invalidInput(`spec.source.path: no files${filter} in ${path}`, ErrorType.NotFound);
  }
  return files;
}

/** Relative paths of the regular files under `dir`, sorted; symlinked folders are not followed (no cycles). */
async function walk(root: string, dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const rel = dir === '' ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...(await walk(root, rel)));
    else if (
      e.isFile() ||
      (e.isSymbolicLink() && (await stat(join(root, rel)).catch(() => undefined))?.isFile())
    ) {
      out.push(rel);
    }
  }
  return out;
}
