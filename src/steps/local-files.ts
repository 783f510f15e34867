import { createWriteStream } from 'node:fs';
import { access, mkdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Category } from '../domain/kinds.js';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';
import { assertSafePath } from './paths.js';

/**
 * Local paths for objects, for readers that need files (DuckDB, the model server): the store's own file when it is
 * a local store, else a copy under `dir` at the object's key. A copy of the same size from an earlier run is kept,
 * so a restarted step does not download its inputs again.
 */
export async function localFiles(
  store: ObjectStore,
  category: Category,
  objects: readonly Pick<ObjectInfo, 'key' | 'size'>[],
  dir: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const out: string[] = [];
  for (const o of objects) {
    signal?.throwIfAborted();
    const inPlace = store.localPath?.(category, o.key);
    if (inPlace !== undefined && (await exists(inPlace))) {
      out.push(inPlace);
      continue;
    }
    const local = join(dir, ...assertSafePath(o.key, `${category}/${o.key}`).split('/'));
    if ((await stat(local).catch(() => undefined))?.size !== o.size) {
      await mkdir(dirname(local), { recursive: true });
      const tmp = `${local}.partial`;
      await pipeline(await store.get(category, o.key), createWriteStream(tmp), { signal });
      await rename(tmp, local);
    }
    out.push(local);
  }
  return out;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
