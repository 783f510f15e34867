import { createWriteStream } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DyffError, ErrorType } from '../../domain/errors.js';
import type { StepContext } from '../context.js';
import { invalidInput } from '../errors.js';
import type { RawDataManifest } from '../manifests.js';
import { RawDataManifest as RawDataManifestSchema, manifestKey, rawFileKey } from '../manifests.js';
import { assertSafePath } from '../paths.js';
import type { LocalFile } from './source.js';

/** The raw data manifest fetch-data wrote last; without it there is nothing complete to ingest. */
export async function readRawManifest(ctx: StepContext, id: string): Promise<RawDataManifest> {
  let text: string;
  try {
    text = (await ctx.objectStore.getBuffer('rawdata', manifestKey(id))).toString('utf8');
  } catch (err) {
    if (err instanceof DyffError && err.type === ErrorType.NotFound) {
      throw invalidInput(`rawdata/${manifestKey(id)} not found: fetch the data first`, ErrorType.NotFound);
    }
    throw err;
  }
  let parsed;
  try {
    parsed = RawDataManifestSchema.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) throw invalidInput(`rawdata/${manifestKey(id)} is not a raw data manifest`);
  // Paths become local file names below; a tampered manifest must not point outside the scratch dir.
  for (const f of parsed.data.files) assertSafePath(f.path, `rawdata/${manifestKey(id)}`);
  return parsed.data;
}

/** Local paths for DuckDB: the store's own file when it has one, else a download into the scratch dir. */
export async function materialize(
  ctx: StepContext,
  id: string,
  files: RawDataManifest['files'],
  dir: string,
): Promise<LocalFile[]> {
  const store = ctx.objectStore;
  const out: LocalFile[] = [];
  for (const f of files) {
    const key = rawFileKey(id, f.path);
    const inPlace = store.localPath?.('rawdata', key);
    if (inPlace !== undefined && (await isReadable(inPlace))) {
      out.push({ path: f.path, local: inPlace, size: f.size });
      continue;
    }
    const local = join(dir, ...f.path.split('/'));
    await mkdir(dirname(local), { recursive: true });
    try {
      await pipeline(await store.get('rawdata', key), createWriteStream(local), { signal: ctx.signal });
    } catch (err) {
      if (!(err instanceof DyffError && err.type === ErrorType.NotFound)) throw err;
      throw invalidInput(
        `rawdata/${key} is in the manifest but missing: fetch the data again`,
        ErrorType.NotFound,
      );
    }
    out.push({ path: f.path, local, size: f.size });
  }
  return out;
}

const isReadable = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );
