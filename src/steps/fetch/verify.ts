import { rm } from 'node:fs/promises';
import { ErrorType } from '../../domain/errors.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';
import { invalidInput } from '../errors.js';
import type { RawFile } from '../manifests.js';
import type { FileDigest } from './hash.js';
import { hashFile } from './hash.js';
import type { SourceFile } from './sources.js';

/**
 * The manifest entry for a stored object, if it already holds the file the source offers: size and checksums
 * match what the source states (or, for a URL without a checksum, what the last complete fetch recorded).
 */
export async function completeEntry(
  store: ObjectStore,
  key: string,
  existing: ObjectInfo,
  f: SourceFile,
  local: FileDigest | undefined,
  previous: RawFile | undefined,
): Promise<RawFile | undefined> {
  if (local) {
    const same = existing.size === local.size && existing.md5 === local.md5;
    return same ? { path: f.path, ...local } : undefined;
  }
  const { md5, sha256 } = f.expected;
  if (f.size !== undefined && existing.size !== f.size) return undefined;
  if (md5 === undefined && sha256 === undefined) {
    const same = previous && previous.size === existing.size && previous.md5 === existing.md5;
    return same ? previous : undefined;
  }
  if (md5 !== undefined && existing.md5 !== md5) return undefined;
  const known = previous?.md5 === existing.md5 ? previous.sha256 : undefined;
  const storedSha256 = known ?? (await store.sha256('rawdata', key));
  if (sha256 !== undefined && storedSha256 !== sha256) return undefined;
  return { path: f.path, size: existing.size, md5: existing.md5, sha256: storedSha256 };
}

/** Hash the whole download; a mismatch deletes it, so the next run starts clean instead of resuming garbage. */
export async function verifyDownload(partial: string, f: SourceFile, url: string): Promise<FileDigest> {
  const digest = await hashFile(partial);
  const { md5, sha256, crc32c } = f.expected;
  // GCS gives a composite object a crc32c only: the one checksum there is to hold its download to.
  const gotCrc = crc32c && !md5 && !sha256 ? await crc32cOf(partial) : undefined;
  const mismatch =
    f.size !== undefined && digest.size !== f.size
      ? ['size', f.size, digest.size]
      : md5 && digest.md5 !== md5
        ? ['md5 checksum', md5, digest.md5]
        : sha256 && digest.sha256 !== sha256
          ? ['sha256 checksum', sha256, digest.sha256]
          : gotCrc !== undefined && gotCrc !== crc32c
            ? ['crc32c checksum', crc32c, gotCrc]
            : undefined;
  if (!mismatch) return digest;
  await rm(partial, { force: true });
  const [what, expected, got] = mismatch;
  throw invalidInput(
    `${f.path}: ${what} mismatch for ${url}: expected ${expected}, got ${got}`,
    ErrorType.ChecksumMismatch,
    { url, path: f.path },
  );
}

/** GCS's crc32c of a file, base64 as its API gives it; the library is loaded only when a source needs it. */
async function crc32cOf(file: string): Promise<string> {
  const { CRC32C } = await import('@google-cloud/storage');
  return (await CRC32C.fromFile(file)).toString();
}
