import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedIdentifier } from '@duckdb/node-api';
import { readFile } from 'node:fs/promises';
import type { Metadata } from 'sharp';
import type { ImageFolderOptions } from '../../domain/image-spec.js';
import type { StepLog } from '../context.js';
import { invalidInput } from '../errors.js';
import { freeName } from './projection.js';
import { loadSharp } from './sharp.js';
import { labeller } from './text-folders.js';

export interface ImageFile {
  /** Relative to the raw data root; its first segment is the label folder. */
  path: string;
  local: string;
}

export const DEFAULT_IMAGE_OPTIONS: ImageFolderOptions = { imageColumn: 'image', labelColumn: 'label' };
/** @default bytes of image data per Parquet shard: a few hundred ImageNet images, a row group's worth. */
export const DEFAULT_SHARD_BYTES = 64 * 1024 * 1024;
/** The appender hands its rows to DuckDB (which may spill them) after this many bytes, not after 2048 rows. */
const FLUSH_BYTES = 16 * 1024 * 1024;

export interface ShardLimits {
  shardBytes: number;
  shardRows: number;
}

/**
 * Stages one row per image (bytes, width, height, format, label, `path`) in `staged`, in path order, through a
 * DuckDB appender: one image is in memory at a time. Only the header is read (sharp's metadata), so a clean image
 * is never decoded. Each row also gets its shard number, chosen here by bytes: a shard closes before the image
 * that would take it past `shardBytes` (or `shardRows`). Returns the name of that helper column.
 */
export async function stageImageFolders(
  connection: DuckDBConnection,
  files: readonly ImageFile[],
  options: ImageFolderOptions,
  limits: ShardLimits,
  log: StepLog,
  signal?: AbortSignal,
): Promise<string> {
  const { imageColumn, labelColumn } = options;
  const names = [imageColumn, 'width', 'height', 'format', labelColumn, 'path'];
  if (new Set(names).size !== names.length) {
    throw invalidInput(
      'spec.ingest.images: imageColumn, labelColumn, width, height, format and path must be different names',
    );
  }
  const shardColumn = freeName('_bytes_shard_', names);
  const types = ['BLOB', 'INTEGER', 'INTEGER', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'INTEGER'];
  const columns = [...names, shardColumn].map((n, i) => `${quotedIdentifier(n)} ${types[i]}`);
  await connection.run(`CREATE TABLE staged (${columns.join(', ')})`);
  const labelOf = labeller(options.labelPattern, 'spec.ingest.images.labelPattern');
  const appender = await connection.createAppender('staged');
  let shard = { n: 0, bytes: 0, rows: 0 };
  let unflushed = 0;
  try {
    for (const [i, f] of files.entries()) {
      signal?.throwIfAborted();
      const slash = f.path.indexOf('/');
      if (slash < 0) throw invalidInput(`${f.path}: image-folders needs every file inside a label folder`);
      const label = labelOf(f.path.slice(0, slash), f.path);
      const bytes = await readFile(f.local);
      const { width, height, format } = await imageHeader(bytes, f.path);
      if (
        shard.rows > 0 &&
        (shard.bytes + bytes.length > limits.shardBytes || shard.rows >= limits.shardRows)
      )
        shard = { n: shard.n + 1, bytes: 0, rows: 0 };
      shard.bytes += bytes.length;
      shard.rows += 1;
      appender.appendBlob(bytes);
      appender.appendInteger(width);
      appender.appendInteger(height);
      appender.appendVarchar(format);
      appender.appendVarchar(label);
      appender.appendVarchar(f.path);
      appender.appendInteger(shard.n);
      appender.endRow();
      unflushed += bytes.length;
      if (unflushed >= FLUSH_BYTES) {
        appender.flushSync();
        unflushed = 0;
      }
      log.progress({ done: i + 1, total: files.length, unit: 'rows', message: `read ${f.path}` });
    }
  } finally {
    appender.closeSync();
  }
  return shardColumn;
}

const PNG_END = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/** Width, height and format from the header; a file that is not a whole PNG or JPEG is an error naming it. */
export async function imageHeader(
  bytes: Buffer,
  path: string,
): Promise<{ width: number; height: number; format: 'png' | 'jpeg' }> {
  let meta: Metadata;
  try {
    meta = await (await loadSharp())(bytes).metadata();
  } catch (err) {
    throw invalidInput(`${path}: not a readable image (${(err as Error).message})`);
  }
  const { width, height, format } = meta;
  if (format !== 'png' && format !== 'jpeg') {
    throw invalidInput(`${path}: a ${format} image; image-folders takes PNG and JPEG files`);
  }
  // The header alone says nothing of the rest; a PNG's fixed trailer catches a truncated file without decoding.
  if (format === 'png' && !bytes.subarray(bytes.length - PNG_END.length).equals(PNG_END)) {
    throw invalidInput(`${path}: truncated PNG (no IEND chunk at the end)`);
  }
  return { width, height, format };
}
