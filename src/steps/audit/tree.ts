import { createHash } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { hashFile } from '../fetch/hash.js';
import { invalidInput } from '../errors.js';

/** Bounds of a procedure tree: a procedure is code and small fixtures, not a data set. */
export const MAX_PROCEDURE_FILES = 2000;
export const MAX_PROCEDURE_BYTES = 64 * 1024 * 1024;

export interface TreeFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * Every regular file under `root` (`.git` left out), sorted by path, with its sha256, and the tree's checksum:
 * sha256 over the `"<sha256>  <path>\n"` lines, what `find . -type f | sort | xargs sha256sum | sha256sum` gives
 * for the same tree. Symlinks and devices are refused: a procedure must not point outside itself.
 */
export async function hashTree(
  root: string,
  origin: string,
): Promise<{ files: TreeFile[]; treeSha256: string }> {
  const paths: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (rel === '' && entry.name === '.git') continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), path);
      else if (entry.isFile()) paths.push(path);
      else throw invalidInput(`${origin}: ${path} is not a regular file or directory (symlinks are refused)`);
      if (paths.length > MAX_PROCEDURE_FILES)
        throw invalidInput(`${origin}: more than ${MAX_PROCEDURE_FILES} files`);
    }
  };
  await walk(root, '');
  paths.sort();
  const files: TreeFile[] = [];
  let total = 0;
  for (const path of paths) {
    const { size, sha256 } = await hashFile(join(root, path));
    total += size;
    if (total > MAX_PROCEDURE_BYTES)
      throw invalidInput(`${origin}: larger than ${MAX_PROCEDURE_BYTES / 1024 / 1024} MiB`);
    files.push({ path, size, sha256 });
  }
  return { files, treeSha256: treeChecksum(files) };
}

export function treeChecksum(files: readonly { path: string; sha256: string }[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.sha256}  ${f.path}\n`);
  return h.digest('hex');
}

/** Whether `root` is a directory (lstat: a symlinked root is refused like any symlink). */
export async function isDirectory(root: string): Promise<boolean> {
  return (await lstat(root).catch(() => undefined))?.isDirectory() ?? false;
}
