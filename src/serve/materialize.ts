import { DyffError, ErrorType } from '../domain/errors.js';
import type { ObjectStore } from '../ports/object-store.js';
import { readModelManifest } from '../steps/fetch-model.js';
import { modelKeys } from '../domain/object-layout.js';
import { localFiles } from '../steps/local-files.js';

/**
 * The local directory holding a fetched model's files (`models/<id>/files/` as a folder): the store's own folder
 * when it is local, else a copy under `workDir`. Only files the manifest lists are used, so a model is served
 * only once fetch-model has finished.
 */
export async function materializeModel(
  store: ObjectStore,
  modelId: string,
  workDir: string,
): Promise<string> {
  const manifest = await readModelManifest({ objectStore: store }, modelId);
  if (!manifest) {
    throw new DyffError(
      ErrorType.NotFound,
      `model ${modelId} not found (NoSuchModel): no models/${modelKeys.manifest(modelId)}`,
    );
  }
  const objects = manifest.files.map((f) => ({ key: modelKeys.file(modelId, f.path), size: f.size }));
  const paths = await localFiles(store, 'models', objects, workDir);
  const first = paths[0];
  if (first === undefined) throw new DyffError(ErrorType.NotFound, `model ${modelId} has no files`);
  // Every path ends with `<id>/files/<relative path>`: the folder is that path minus the relative part.
  const relative = manifest.files[0]!.path;
  return first.slice(0, first.length - relative.length - 1);
}
