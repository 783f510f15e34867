import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface FileDigest {
  size: number;
  md5: string;
  sha256: string;
}

/** md5 (what the object store and Zenodo report) and sha256 (what the manifest also offers) in one read. */
export async function hashFile(file: string): Promise<FileDigest> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    md5.update(bytes);
    sha256.update(bytes);
  }
  return { size, md5: md5.digest('hex'), sha256: sha256.digest('hex') };
}
