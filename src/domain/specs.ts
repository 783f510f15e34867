import * as z from 'zod';
import { AuditSpec } from './audit-spec.js';
import { DataSourceSpec } from './data-source-spec.js';
import { ImageFolderOptions } from './image-spec.js';
import { SecretRef } from './secrets.js';
import { InferenceServiceSpec } from './service-spec.js';
import { Checksums, deadlineSeconds, entityId, httpUrl, k8sQuantity, labels } from './spec-fields.js';

/** Entity specs as zod schemas. A YAML manifest is `{kind, account, metadata?, spec}` in the style of Kubernetes. */

export { AuditSpec } from './audit-spec.js';
export { DataSourceSpec } from './data-source-spec.js';
export { InferenceServiceSpec, SchemaAdapter } from './service-spec.js';
export { Checksums, MAX_STEP_DEADLINE_SECONDS, entityId, k8sQuantity, labels } from './spec-fields.js';

export const IngestSpec = z.strictObject({
  /** @default auto (from file extensions) */
  format: z
    .enum(['auto', 'csv', 'jsonl', 'json', 'parquet', 'text-folders', 'image-folders'])
    .default('auto'),
  /** Glob relative to the raw data root selecting the files to ingest. */
  include: z.string().optional(),
  /** Columns to keep (after renaming), in order. */
  columns: z.array(z.string().min(1)).min(1).optional(),
  rename: z.record(z.string(), z.string().min(1)).optional(),
  /** A split column: either copied from an existing column, or assigned deterministically by fraction. */
  split: z
    .strictObject({
      column: z.string().min(1).default('split'),
      from: z.string().min(1).optional(),
      /**
       * With `from`: a regex applied to that column's value; its first group (or whole match) is the split, e.g.
       * `^\\d+/(train|test)-` on an image folder's `path`. A row it does not match fails the ingest.
       */
      pattern: z.string().min(1).optional(),
      fractions: z.record(z.string(), z.number().positive()).optional(),
      seed: z.string().default('dyff'),
    })
    .optional(),
  /** Options for `text-folders`: one row per file, labelled by its sub-folder. */
  text: z
    .strictObject({
      textColumn: z.string().default('text'),
      labelColumn: z.string().default('label'),
      /** A regex applied to the folder name; its first group (or whole match) is the label. */
      labelPattern: z.string().optional(),
      /** strict: non-UTF-8 files are an error; replace: invalid bytes become U+FFFD; latin1: decode as ISO-8859-1. */
      encoding: z.enum(['strict', 'replace', 'latin1']).default('strict'),
    })
    .optional(),
  /** Options for `image-folders`: one row per PNG/JPEG file, labelled by its sub-folder. */
  images: ImageFolderOptions.optional(),
  /** Rows per Parquet shard. @default 1000000 */
  shardRows: z.number().int().positive().optional(),
  /** Bytes of image data per Parquet shard (`image-folders` and derived datasets). @default 64 MiB */
  shardBytes: z.number().int().positive().optional(),
});
export type IngestSpec = z.infer<typeof IngestSpec>;

/** CPU and memory for a step's pod (Kubernetes quantities), over the step catalogue's defaults. */
export const StepResourcesSpec = z.strictObject({
  cpu: k8sQuantity.optional(),
  memory: k8sQuantity.optional(),
});
export type StepResourcesSpec = z.infer<typeof StepResourcesSpec>;

export const DatasetSpec = z.strictObject({
  source: DataSourceSpec,
  ingest: IngestSpec.default({ format: 'auto' }),
  /** For the fetch-data and ingest-dataset Jobs: requested, and memory also the limit. */
  resources: StepResourcesSpec.optional(),
  deadlineSeconds,
});
export type DatasetSpec = z.infer<typeof DatasetSpec>;

export const ModelSpec = z.strictObject({
  source: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('local'), path: z.string().min(1) }),
    z.strictObject({
      kind: z.literal('urls'),
      /** A URL, or a URL with the file name to store it under and a checksum to verify. */
      urls: z
        .array(
          z.union([
            httpUrl,
            z.strictObject({
              url: httpUrl,
              path: z.string().min(1).optional(),
              checksum: Checksums.optional(),
            }),
          ]),
        )
        .min(1),
    }),
    z.strictObject({
      kind: z.literal('huggingFaceHub'),
      repoID: z.string().regex(/^[\w.-]+\/[\w.-]+$/, { error: 'expected owner/name' }),
      revision: z.string().default('main'),
      allowPatterns: z.array(z.string()).optional(),
      ignorePatterns: z.array(z.string()).optional(),
      /** A Hub token for private or gated repos, by reference. @default the worker's HF_TOKEN */
      token: SecretRef.optional(),
    }),
  ]),
  /** For the fetch-model Job: requested, and memory also the limit. */
  resources: StepResourcesSpec.optional(),
  deadlineSeconds,
});

export const EvaluationSpec = z.strictObject({
  dataset: entityId,
  inferenceService: entityId,
  /** Only evaluate rows whose split column has this value. */
  split: z.string().optional(),
  splitColumn: z.string().default('split'),
  replications: z.number().int().positive().default(1),
  workersPerReplica: z.number().int().positive().default(4),
  client: z
    .strictObject({
      badRequestPolicy: z.enum(['Abort', 'Skip']).default('Abort'),
      transientErrorRetryLimit: z.number().int().nonnegative().default(120),
      transientErrorRetryDelaySeconds: z.number().nonnegative().default(30),
      duplicateOutputPolicy: z.enum(['Deduplicate', 'Error', 'Ignore']).default('Deduplicate'),
      missingOutputPolicy: z.enum(['Error', 'Ignore']).default('Error'),
      requestTimeoutSeconds: z.number().positive().default(30),
    })
    .default({
      badRequestPolicy: 'Abort',
      transientErrorRetryLimit: 120,
      transientErrorRetryDelaySeconds: 30,
      duplicateOutputPolicy: 'Deduplicate',
      missingOutputPolicy: 'Error',
      requestTimeoutSeconds: 30,
    }),
  /** For each of the evaluate and verify steps. */
  deadlineSeconds,
});

export const ReportSpec = z.strictObject({
  evaluation: entityId,
  /** classification.accuracy | classification.topKAccuracy | text.exactMatch */
  rubric: z.enum(['classification.accuracy', 'classification.topKAccuracy', 'text.exactMatch']),
  /** Rubric options: labelColumn (dataset), predictionField (response), k. */
  parameters: z
    .strictObject({
      labelColumn: z.string().default('label'),
      predictionField: z.string().default('label'),
      k: z.number().int().positive().default(1),
      /** Only score dataset rows whose split column has this value (e.g. test). */
      split: z.string().optional(),
      splitColumn: z.string().default('split'),
    })
    .prefault({}),
  modules: z.array(entityId).optional(),
  deadlineSeconds,
});
export type ReportSpec = z.infer<typeof ReportSpec>;

export type EvaluationSpec = z.infer<typeof EvaluationSpec>;
export type ModelSpec = z.infer<typeof ModelSpec>;

export const SPEC_OF_KIND = {
  DataSource: z.strictObject({ source: DataSourceSpec }),
  Dataset: DatasetSpec,
  Model: ModelSpec,
  InferenceService: InferenceServiceSpec,
  Evaluation: EvaluationSpec,
  Report: ReportSpec,
  Audit: AuditSpec,
} as const;

export const accountName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
  error: 'expected a lowercase account name (letters, digits, dashes)',
});
/** Sizes of what a manifest's metadata may carry (fixed in the schema: manifests are parsed before any config). */
export const MAX_ANNOTATIONS = 64;
export const MAX_ANNOTATION_BYTES = 4096;
export const MAX_DOCUMENTATION_BYTES = 65536;

export const requestId = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/, { error: 'expected printable ASCII without spaces' });

export const Metadata = z.strictObject({
  name: z.string().min(1).max(253).optional(),
  labels: labels.optional(),
  /** Bounded because they are stored with the entity and shown in every listing and report. */
  annotations: z
    .record(
      z.string().max(253),
      z.string().max(MAX_ANNOTATION_BYTES, { error: `longer than ${MAX_ANNOTATION_BYTES} characters` }),
    )
    .refine((a) => Object.keys(a).length <= MAX_ANNOTATIONS, {
      error: `more than ${MAX_ANNOTATIONS} annotations`,
    })
    .optional(),
  documentation: z
    .string()
    .max(MAX_DOCUMENTATION_BYTES, { error: `longer than ${MAX_DOCUMENTATION_BYTES} characters` })
    .optional(),
  /** A key of the caller's choosing: creates with the same one make one entity (retries, concurrent scripts). */
  requestId: requestId.optional(),
});

export const ManifestHeader = z.object({
  apiVersion: z.string().optional(),
  kind: z.enum(['DataSource', 'Dataset', 'Model', 'InferenceService', 'Evaluation', 'Report', 'Audit'], {
    error: (iss) =>
      `unknown kind ${JSON.stringify(iss.input)}; expected one of DataSource, Dataset, Model, InferenceService, Evaluation, Report, Audit`,
  }),
  account: accountName,
  metadata: Metadata.optional(),
  spec: z.unknown(),
});
