/**
 * The manifests the data steps write last, once everything they list is in the store. Declared in the domain
 * (src/domain/artifacts.ts, object-layout.ts), where the worker and client read them too.
 */
export type { ArrowField, ColumnSchema, DatasetManifest, RawFile } from '../domain/artifacts.js';
export { RawDataManifest, StoredFile } from '../domain/artifacts.js';
import { rawdataKeys } from '../domain/object-layout.js';

export const rawFilesPrefix = rawdataKeys.files;
export const rawFileKey = rawdataKeys.file;
/** The manifest key of a rawdata or dataset entity: both are `<id>/manifest.json`. */
export const manifestKey = rawdataKeys.manifest;
