import { z } from 'zod';
import { ModelSpec } from '../../domain/specs.js';
import { StoredFile } from '../manifests.js';

/**
 * `models/<id>/manifest.json`, written last by fetch-model: every file it lists is under `models/<id>/files/`
 * with that size and those checksums. build-service and serve-model trust a model only once it exists.
 */
export const ModelManifest = z.object({
  source: ModelSpec.shape.source,
  /** For a Hugging Face source: the commit the revision resolved to, so every file is from one commit. */
  commit: z.string().optional(),
  /** Relative to `models/<id>/files/`. */
  files: z.array(StoredFile),
  createdAt: z.string(),
});
export type ModelManifest = z.infer<typeof ModelManifest>;
export type ModelFileEntry = ModelManifest['files'][number];

export const modelFilesPrefix = (id: string) => `${id}/files/`;
export const modelFileKey = (id: string, path: string) => `${id}/files/${path}`;
export const modelManifestKey = (id: string) => `${id}/manifest.json`;
