import type { Category } from './kinds.js';
import { legacyLogKey, logChunkKey, logPrefix } from './log-layout.js';

/**
 * Every object key of the store, per category (one bucket or directory each). Steps, activities, workflows and the
 * client take keys from here only, and the step catalogue's grants name these prefixes:
 *
 *     rawdata/<id>/files/…                   fetched files (fetch-data)       + manifest.json (RawDataManifest)
 *     datasets/<id>/data/*.parquet           shards (ingest-dataset)           + manifest.json (DatasetManifest)
 *     models/<id>/files/…                    model files (fetch-model)         + manifest.json (ModelManifest)
 *     inferenceservices/<id>/service.json    ServiceDescription (build-service)
 *     inferenceservices/<id>/source.tar.gz   build context of a spec.build (buildImage activity)
 *     outputs/<id>/data/part-<seq>.parquet   outputs (evaluate), checkpoints/part-<seq>.json, skipped.json
 *     outputs/<id>/verified/…                verified parts + summary.json (VerifySummary, verify-outputs)
 *     reports/<id>/report.json, index.html, instances.parquet (report); benchmark.json, index.html (benchmark)
 *     auditprocedures/<id>/files/…           the fetched procedure (fetch-procedure) + manifest.json (ProcedureManifest)
 *     auditreports/<id>/index.html, *.json   what the procedure wrote (run-audit) + .dyff/audit.json (AuditRunRecord)
 *     <category>/<id>/.dyff/…                the step logs of the entity that lives in <category>
 */

const seq5 = (n: number) => String(n).padStart(5, '0');

/** Everything of one entity in its category. */
export const entityPrefix = (id: string) => `${id}/`;

export const rawdataKeys = {
  files: (id: string) => `${id}/files/`,
  file: (id: string, path: string) => `${id}/files/${path}`,
  manifest: (id: string) => `${id}/manifest.json`,
};

export const datasetKeys = {
  shards: (id: string) => `${id}/data/`,
  /** A shard by its path relative to the dataset (as the manifest lists it, `data/…`). */
  artifact: (id: string, path: string) => `${id}/${path}`,
  manifest: (id: string) => `${id}/manifest.json`,
};

export const modelKeys = {
  files: (id: string) => `${id}/files/`,
  file: (id: string, path: string) => `${id}/files/${path}`,
  manifest: (id: string) => `${id}/manifest.json`,
};

export const inferenceServiceKeys = {
  description: (id: string) => `${id}/service.json`,
  /** The build context of a service with `spec.build`, packed by the build activity (a gzipped tar). */
  source: (id: string) => `${id}/source.tar.gz`,
};

export const outputKeys = {
  parts: (id: string) => `${id}/data/`,
  part: (id: string, seq: number) => `${id}/data/part-${seq5(seq)}.parquet`,
  checkpoints: (id: string) => `${id}/checkpoints/`,
  checkpoint: (id: string, seq: number) => `${id}/checkpoints/part-${seq5(seq)}.json`,
  skipped: (id: string) => `${id}/skipped.json`,
  verified: (id: string) => `${id}/verified/`,
  verifiedPart: (id: string, n: number) => `${id}/verified/part-${seq5(n)}.parquet`,
  summary: (id: string) => `${id}/verified/summary.json`,
};

export const reportKeys = {
  document: (id: string) => `${id}/report.json`,
  page: (id: string) => `${id}/index.html`,
  instances: (id: string) => `${id}/instances.parquet`,
  /** A benchmark's report across corruptions keeps its numbers here, beside its `index.html`. */
  benchmark: (id: string) => `${id}/benchmark.json`,
};

export const auditProcedureKeys = {
  files: (id: string) => `${id}/files/`,
  file: (id: string, path: string) => `${id}/files/${path}`,
  manifest: (id: string) => `${id}/manifest.json`,
};

export const auditReportKeys = {
  page: (id: string) => `${id}/index.html`,
  file: (id: string, name: string) => `${id}/${name}`,
  record: (id: string) => `${id}/.dyff/audit.json`,
};

/** Step logs: numbered chunks per step and try, each created once (log-layout.ts). */
export const logKeys = {
  /** Everything the steps log for the entity. */
  prefix: (id: string) => logPrefix(id),
  chunk: logChunkKey,
  /** The single log object of entities written before chunked logs (read only). */
  legacy: legacyLogKey,
};

/** An object by category and key: what the worker's `readJson` takes. */
export interface ObjectRef {
  category: Category;
  key: string;
}

/** The artifacts the workflows read back after a step, by the entity they belong to. */
export const artifactRefs = {
  modelManifest: (id: string): ObjectRef => ({ category: 'models', key: modelKeys.manifest(id) }),
  serviceDescription: (id: string): ObjectRef => ({
    category: 'inferenceservices',
    key: inferenceServiceKeys.description(id),
  }),
  verifySummary: (id: string): ObjectRef => ({ category: 'outputs', key: outputKeys.summary(id) }),
  report: (id: string): ObjectRef => ({ category: 'reports', key: reportKeys.document(id) }),
  procedureManifest: (id: string): ObjectRef => ({
    category: 'auditprocedures',
    key: auditProcedureKeys.manifest(id),
  }),
  auditRecord: (id: string): ObjectRef => ({ category: 'auditreports', key: auditReportKeys.record(id) }),
};

/**
 * The URI of an entity's folder from the URI of its manifest (`…/<id>/manifest.json` → `…/<id>/`): stores name
 * objects, not prefixes.
 */
export const entityLocation = (manifestUri: string) => manifestUri.replace(/manifest\.json$/, '');

/** `category/key`, as messages name an object. */
export const objectPath = (ref: ObjectRef) => `${ref.category}/${ref.key}`;
