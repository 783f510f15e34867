import * as z from 'zod';
import { entityId } from './spec-fields.js';

/** Options for `image-folders`: one row per image file, labelled by its sub-folder (ImageNet's layout). */
export const ImageFolderOptions = z.strictObject({
  imageColumn: z.string().min(1).default('image'),
  labelColumn: z.string().min(1).default('label'),
  /** A regex applied to the folder name; its first group (or whole match) is the label. */
  labelPattern: z.string().optional(),
});
export type ImageFolderOptions = z.infer<typeof ImageFolderOptions>;

/** The ImageNet-C corruptions this project computes (Hendrycks & Dietterich, 2019). */
export const CORRUPTIONS = ['brightness', 'contrast', 'gaussian_noise', 'gaussian_blur'] as const;
export type CorruptionName = (typeof CORRUPTIONS)[number];

export const CorruptionSpec = z.strictObject({
  name: z.enum(CORRUPTIONS),
  /** ImageNet-C's severity: 1 (mild) to 5 (severe), each with the published parameter. */
  severity: z.number().int().min(1).max(5),
  /** Seeds the noise of random corruptions, per row: the same spec gives the same pixels. */
  seed: z.string().default('dyff'),
  /** The BLOB column holding the images (encoded PNG/JPEG). */
  column: z.string().min(1).default('image'),
});
export type CorruptionSpec = z.infer<typeof CorruptionSpec>;

/**
 * A dataset derived from another (Ready) Dataset: its rows, `_index_`, labels and splits, with the images
 * corrupted. Nothing is fetched; the ingest step reads the source dataset's shards.
 */
export const DerivedDataSource = z.strictObject({
  kind: z.literal('dataset'),
  dataset: entityId,
  corruption: CorruptionSpec,
});
export type DerivedDataSource = z.infer<typeof DerivedDataSource>;
