import type sharp from 'sharp';

let loaded: Promise<typeof sharp> | undefined;

/**
 * sharp, imported on first use: loading libvips takes 0.2–0.3 s, which a table ingest (CSV, JSON, Parquet, text)
 * would otherwise pay at start-up for images it never reads.
 */
export const loadSharp = (): Promise<typeof sharp> => (loaded ??= import('sharp').then((m) => m.default));
