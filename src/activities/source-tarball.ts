/**
 * A build context packed from the object store: the files under a directory of a model, as a gzipped tar at
 * `inferenceservices/<id>/source.tar.gz` (what Cloud Build's `storageSource` reads). Files stream through one at a
 * time, so a context of model weights is never held in memory. Entries are ustar with fixed owner and mtime, so
 * the same files make the same tarball.
 */
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { DyffError, ErrorType } from '../domain/errors.js';
import { inferenceServiceKeys, modelKeys } from '../domain/object-layout.js';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';

const BLOCK = 512;

/**
 * Pack `models/<modelId>/files/<context>/…` into the service's source tarball; returns its key and file count.
 * `generated` is the Dockerfile to add when the context has none at `dockerfile`; without it, one is required.
 */
export async function packBuildContext(
  store: ObjectStore,
  input: { serviceId: string; modelId: string; context: string; dockerfile: string; generated?: string },
): Promise<{ key: string; files: number }> {
  const dir = input.context
    .split('/')
    .filter((s) => s !== '.')
    .join('/');
  const prefix = modelKeys.files(input.modelId) + (dir ? `${dir}/` : '');
  const objects = await store.list('models', prefix);
  const where = `spec.build.context ${JSON.stringify(input.context)} (models/${prefix})`;
  if (!objects.length)
    throw new DyffError(ErrorType.InvalidSpec, `${where}: no files of model ${input.modelId} there`);
  const dockerfile = input.dockerfile
    .split('/')
    .filter((s) => s !== '.')
    .join('/');
  const extra: [string, Buffer][] = [];
  if (!objects.some((o) => o.key === prefix + dockerfile)) {
    if (input.generated === undefined)
      throw new DyffError(ErrorType.InvalidSpec, `spec.build.dockerfile: ${dockerfile} is not in ${where}`);
    extra.push([dockerfile, Buffer.from(input.generated, 'utf8')]);
  }
  const key = inferenceServiceKeys.source(input.serviceId);
  const body = Readable.from(tarEntries(store, objects, prefix, extra)).pipe(createGzip());
  await store.put('inferenceservices', key, body, { contentType: 'application/gzip' });
  return { key, files: objects.length };
}

async function* tarEntries(
  store: ObjectStore,
  objects: ObjectInfo[],
  prefix: string,
  extra: [string, Buffer][],
): AsyncGenerator<Buffer> {
  for (const o of objects) {
    const path = o.key.slice(prefix.length);
    yield header(path, o.size);
    for await (const chunk of await store.get('models', o.key)) yield chunk as Buffer;
    yield padding(o.size);
  }
  for (const [path, content] of extra) {
    yield header(path, content.length);
    yield content;
    yield padding(content.length);
  }
  // The end of the archive: two empty blocks.
  yield Buffer.alloc(2 * BLOCK);
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** One ustar header; a path over 100 bytes is split into prefix and name at a `/`. */
function header(path: string, size: number): Buffer {
  const [prefix, name] = splitPath(path);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii'); // mode
  h.write('0000000\0', 108, 'ascii'); // uid
  h.write('0000000\0', 116, 'ascii'); // gid
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write('00000000000\0', 136, 'ascii'); // mtime: fixed, so the tarball depends on the files alone
  h.write('        ', 148, 'ascii'); // checksum field counts as spaces while summing
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function splitPath(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const [prefix, name] = [path.slice(0, i), path.slice(i + 1)];
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new DyffError(
    ErrorType.InvalidSpec,
    `spec.build.context: ${path} is too long a path for the build context`,
  );
}
