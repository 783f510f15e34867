import { CRC32C } from '@google-cloud/storage';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyDownload } from '../../src/steps/fetch/verify.js';

/**
 * A composite GCS object has a crc32c and no md5: its download is held to the crc32c (base64, as the JSON API
 * gives it), computed here by the storage library's own implementation.
 */
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyff-crc32c-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const content = Buffer.from('text,label\nwin money,spam\n');
const crcOf = (b: Buffer) => {
  const c = new CRC32C();
  c.update(b);
  return c.toString();
};

describe('verifyDownload with a crc32c only', () => {
  it('accepts the file whose crc32c matches, and deletes and names one that does not', async () => {
    const partial = join(dir, 'part.csv.partial');
    await writeFile(partial, content);
    const file = (crc32c: string) => ({
      path: 'part.csv',
      size: content.length,
      expected: { crc32c },
      from: { kind: 'http' as const, url: 'http://gcs/o' },
    });
    await expect(verifyDownload(partial, file(crcOf(content)), 'http://gcs/o')).resolves.toMatchObject({
      size: content.length,
    });

    const other = crcOf(Buffer.from('something else'));
    await expect(verifyDownload(partial, file(other), 'http://gcs/o')).rejects.toMatchObject({
      type: 'ChecksumMismatch',
      message: `part.csv: crc32c checksum mismatch for http://gcs/o: expected ${other}, got ${crcOf(content)}`,
    });
    expect(existsSync(partial)).toBe(false);
  });
});
