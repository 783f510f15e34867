import { z } from 'zod';
import { DerivedDataSource } from './image-spec.js';
import { Checksums, httpUrl } from './spec-fields.js';

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
  DerivedDataSource,
]);
export type DataSourceSpec = z.infer<typeof DataSourceSpec>;
