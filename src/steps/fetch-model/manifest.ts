import { modelKeys } from '../../domain/object-layout.js';

/** `models/<id>/manifest.json` and the files it lists: declared in src/domain (artifacts.ts, object-layout.ts). */
export { ModelManifest } from '../../domain/artifacts.js';
export type { ModelFileEntry } from '../../domain/artifacts.js';

export const modelFilesPrefix = modelKeys.files;
export const modelFileKey = modelKeys.file;
export const modelManifestKey = modelKeys.manifest;
