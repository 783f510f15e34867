import { z } from 'zod';
import { DataSourceSpec } from '../domain/specs.js';
import type { IngestSpec } from '../domain/specs.js';

/**
 * The manifests the data steps write last, once everything they list is in the store: a reader that finds a
 * manifest can trust every file it names.
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
  files: z.array(StoredFile),
  createdAt: z.string(),
});
export type RawDataManifest = z.infer<typeof RawDataManifest>;
export type RawFile = RawDataManifest['files'][number];

export const rawFilesPrefix = (id: string) => `${id}/files/`;
export const rawFileKey = (id: string, path: string) => `${id}/files/${path}`;
export const manifestKey = (id: string) => `${id}/manifest.json`;

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
  createdAt: string;
}
