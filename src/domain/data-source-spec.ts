import * as z from 'zod';
import { SecretRef } from './secrets.js';
import { DerivedDataSource } from './image-spec.js';
import { Checksums, httpUrl } from './spec-fields.js';

/**
 * `gs://<bucket>/<object>` or `gs://<bucket>/<prefix>/` (a trailing `/` copies every object under the prefix;
 * `gs://<bucket>/` the whole bucket). Bucket names as GCS allows them: 3-222 characters of lowercase letters,
 * digits, dashes, underscores and dots.
 */
export const gsUri = z.string().regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\/[^\n\r]*$/, {
  error: 'expected gs://<bucket>/<object> or gs://<bucket>/<prefix>/',
});

/** A Hub dataset: `owner/name`, or as in its URL path, `datasets/owner/name`. */
export const hubDatasetId = z.string().regex(/^(datasets\/)?[\w.-]+\/[\w.-]+$/, {
  error: 'expected owner/name (or datasets/owner/name)',
});

/** Where raw data comes from (Dyff's DataSource). */
export const DataSourceSpec = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('url'),
    url: httpUrl,
    /** File name to store under; defaults to the last path segment of the URL. */
    fileName: z.string().min(1).optional(),
    checksum: Checksums.optional(),
    maxFileBytes: z.number().int().positive().optional(),
  }),
  z.strictObject({
    kind: z.literal('zenodo'),
    record: z.string().regex(/^\d+$/, { error: 'expected a numeric Zenodo record id' }),
    /** @default https://zenodo.org */
    server: httpUrl.optional(),
    maxFileBytes: z.number().int().positive().optional(),
  }),
  z.strictObject({
    kind: z.literal('local'),
    /** A file or directory; relative paths resolve against the spec file's directory. */
    path: z.string().min(1),
    include: z.string().optional(),
    maxFileBytes: z.number().int().positive().optional(),
  }),
  z.strictObject({
    kind: z.literal('gcs'),
    uri: gsUri,
    /** For a prefix: a glob over paths relative to it, e.g. `**\/*.parquet`. */
    include: z.string().optional(),
    maxFileBytes: z.number().int().positive().optional(),
  }),
  z.strictObject({
    kind: z.literal('huggingFaceHub'),
    repoID: hubDatasetId,
    /** A branch, tag or commit; the commit it resolved to is recorded in the raw data manifest. */
    revision: z.string().min(1).default('main'),
    /** huggingface_hub's fnmatch patterns. @default the repo's Parquet, CSV/TSV and JSON(L) files */
    allowPatterns: z.array(z.string()).optional(),
    ignorePatterns: z.array(z.string()).optional(),
    /** A Hub token for private or gated datasets, by reference. @default the worker's HF_TOKEN */
    token: SecretRef.optional(),
    maxFileBytes: z.number().int().positive().optional(),
  }),
  DerivedDataSource,
]);
export type DataSourceSpec = z.infer<typeof DataSourceSpec>;
