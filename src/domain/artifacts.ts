import * as z from 'zod';
import { DataSourceSpec, ModelSpec } from './specs.js';
import type { IngestSpec } from './specs.js';
import type { CorruptionSpec } from './image-spec.js';

/**
 * The artifacts steps write and the worker, workflows and client read back: one declaration each. Where each one
 * lives is `object-layout.ts`. Manifests are written last, once everything they list is in the store: a reader
 * that finds a manifest can trust every file it names.
 */

/** One file a fetch step stored under `<category>/<id>/files/`, with its size and checksums. */
export const StoredFile = z.object({
  /** Relative to `<category>/<id>/files/`. */
  path: z.string(),
  size: z.number().int().nonnegative(),
  md5: z.string(),
  sha256: z.string(),
});

/** `rawdata/<id>/manifest.json`: the fetched files under `rawdata/<id>/files/`. */
export const RawDataManifest = z.object({
  source: DataSourceSpec,
  /** For a Hugging Face source: the commit the revision resolved to, so every file is from one commit. */
  commit: z.string().optional(),
  files: z.array(StoredFile),
  createdAt: z.string(),
});
export type RawDataManifest = z.infer<typeof RawDataManifest>;
export type RawFile = RawDataManifest['files'][number];

/** `models/<id>/manifest.json`: build-service and serve-model trust a model only once it exists. */
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

export interface ColumnSchema {
  name: string;
  /** The DuckDB type, e.g. BIGINT, VARCHAR, STRUCT(a INTEGER). */
  type: string;
}

export interface ArrowField {
  name: string;
  /** Arrow's type name: int64, double, string, list<item: string>, struct<a: int32>, timestamp[us], … */
  type: string;
  nullable: boolean;
}

/** `datasets/<id>/manifest.json`. */
export interface DatasetManifest {
  rowCount: number;
  artifacts: { kind: 'parquet'; path: string; rows: number; size: number; digest: { md5: string } }[];
  schema: {
    columns: ColumnSchema[];
    jsonSchema: Record<string, unknown>;
    arrowSchema: { fields: ArrowField[] };
  };
  ingest: IngestSpec;
  /** For a Hugging Face source: the commit its files came from (the raw data manifest's `commit`). */
  commit?: string;
  /** A derived dataset's lineage: the source Dataset and the corruption applied (with its parameter). */
  derivedFrom?: { dataset: string; corruption: CorruptionSpec; parameter: number };
  createdAt: string;
}

/** `outputs/<id>/verified/summary.json`, written last by verify-outputs. */
export interface VerifySummary {
  /** Dataset rows (in the split) × replications. */
  expected: number;
  /** Output rows in the verified parts. */
  written: number;
  duplicatesRemoved: number;
  /** Expected pairs with neither an output nor a skip record. */
  missing: number;
  /** Items skipped by the bad-request policy; summaries of older versions list them instead of counting. */
  skipped: number;
  replications: number;
  /** Outputs for pairs the evaluation does not have (e.g. from a run with another split), left out. */
  unexpected: number;
  parts: string[];
  createdAt: string;
}

/** One item the bad-request policy skipped, in `outputs/<id>/skipped.json`. */
export interface SkippedItem {
  _index_: number;
  _replication_: string;
  status: number;
  error: string;
}

export interface SkippedItems {
  items: SkippedItem[];
}

/** What the worker reads of `reports/<id>/report.json` (the whole document is the report step's). */
export interface ReportHeadline {
  headline?: string;
  metrics?: Record<string, number | null>;
}
