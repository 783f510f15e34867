import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RetryPolicy, StepContext } from '../context.js';
import { invalidInput } from '../errors.js';
import type { RawFile } from '../manifests.js';
import { rawFileKey } from '../manifests.js';
import { downloadAttempt } from './download.js';
import { hashFile } from './hash.js';
import { withRetry } from './http.js';
import type { SourceFile } from './sources.js';
import type { ByteProgress } from './util.js';
import { completeEntry, verifyDownload } from './verify.js';

/** What every file of one fetch shares. */
export interface FetchRun {
  ctx: StepContext;
  id: string;
  maxBytes: number;
  retry: RetryPolicy;
  progress: ByteProgress;
  /** Where partial downloads live: `<workDir>/<id>`. */
  partialDir: string;
  /** Awaited before the first change to the stored files. */
  beforeWrite: () => Promise<void>;
}

/** One file into `rawdata/<id>/files/<path>`: skipped when already complete, else copied or downloaded. */
export async function fetchFile(
  run: FetchRun,
  f: SourceFile,
  previous: RawFile | undefined,
): Promise<RawFile> {
  const { ctx, progress } = run;
  ctx.signal?.throwIfAborted();
  const key = rawFileKey(run.id, f.path);
  const local = f.from.kind === 'local' ? await hashFile(f.from.file) : undefined;
  if (local && local.size > run.maxBytes) throw tooLarge(f.path, local.size, run.maxBytes);
  const existing = await ctx.objectStore.stat('rawdata', key);
  const complete = existing && (await completeEntry(ctx.objectStore, key, existing, f, local, previous));
  if (complete) {
    ctx.log.info(`skip ${f.path} (already complete)`);
    progress.finish(f.path, complete.size);
    return complete;
  }
  const path = f.from.kind === 'local' ? f.from.file : join(run.partialDir, `${f.path}.partial`);
  const digest = f.from.kind === 'local' ? local! : await download(run, f, f.from.url, path);
  await run.beforeWrite();
  const info = await ctx.objectStore.put('rawdata', key, createReadStream(path));
  // Guards against a source file rewritten between hashing and copying.
  if (info.md5 !== digest.md5) throw new Error(`${path} changed while it was stored; rerun the fetch`);
  if (f.from.kind !== 'local') await rm(path, { force: true });
  progress.finish(f.path, digest.size);
  return { path: f.path, ...digest };
}

export function tooLarge(path: string, size: number, maxBytes: number) {
  return invalidInput(`${path}: ${size} bytes is more than the limit of ${maxBytes} bytes (maxFileBytes)`);
}

async function download(run: FetchRun, f: SourceFile, url: string, partial: string) {
  const { log, signal } = run.ctx;
  await withRetry(
    f.path,
    () =>
      downloadAttempt({
        url,
        egress: run.ctx.sources.egress,
        headers: f.headers,
        path: f.path,
        partial,
        maxBytes: run.maxBytes,
        signal,
        onStart: ({ resumedFrom, restarted }) => {
          if (restarted) log.warn(`${url} ignored the Range request; downloading ${f.path} from the start`);
          else if (resumedFrom > 0) log.info(`resume ${f.path} from byte ${resumedFrom}`);
          else log.info(`download ${f.path} from ${url}`);
        },
        onBytes: (bytes, total) => run.progress.update(f.path, bytes, total),
      }),
    { policy: run.retry, log, signal },
  );
  return verifyDownload(partial, f, url);
}
