import type { ModelSpec } from '../../domain/specs.js';
import type { RetryPolicy, StepLog } from '../context.js';
import { invalidInput } from '../errors.js';
import type { SourceFile } from '../fetch/sources.js';
import { listSourceFiles } from '../fetch/sources.js';
import { assertSafePath } from '../paths.js';
import type { EgressPolicy } from '../net/egress-guard.js';
import type { HubAccess } from '../fetch/hub-access.js';
import { listHubFiles } from './hub.js';

/** A file of a model source: what fetch-data's sources give, plus a name for messages. */
export interface ModelSourceFile extends SourceFile {
  /** How errors name the file, e.g. `huggingFaceHub org/model@main: config.json`. */
  describe?: string;
}

export interface ModelListing {
  files: ModelSourceFile[];
  commit?: string;
}

interface ListOptions {
  hub: HubAccess;
  localRoots: readonly string[];
  egress: EgressPolicy;
  log: StepLog;
  retry: RetryPolicy;
  signal?: AbortSignal;
}

export async function listModelFiles(source: ModelSpec['source'], opts: ListOptions): Promise<ModelListing> {
  switch (source.kind) {
    case 'local':
      return { files: await listSourceFiles({ kind: 'local', path: source.path }, opts) };
    case 'urls':
      return { files: urlFiles(source.urls) };
    case 'huggingFaceHub':
      return listHubFiles(source, {
        access: opts.hub,
        egress: opts.egress,
        log: opts.log,
        retry: opts.retry,
        signal: opts.signal,
      });
  }
}

function urlFiles(urls: Extract<ModelSpec['source'], { kind: 'urls' }>['urls']): ModelSourceFile[] {
  const seen = new Set<string>();
  return urls.map((entry, i) => {
    const { url, path: named, checksum } = typeof entry === 'string' ? { url: entry } : entry;
    const where = `spec.source.urls[${i}]`;
    const path = named ?? decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
    if (path === '') throw invalidInput(`${where}: cannot take a file name from ${url}; give { url, path }`);
    assertSafePath(path, where);
    if (seen.has(path))
      throw invalidInput(`${where}: a second file named ${JSON.stringify(path)}; give { url, path }`);
    seen.add(path);
    return { path, expected: { ...checksum }, from: { kind: 'http', url } };
  });
}
