import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { BindMount } from './hardening.js';

const run = promisify(execFile);

/**
 * Containers run as a non-root uid, while a worker run by root writes the data home as root (0755 directories):
 * the step could then read the filesystem store but create nothing in it. A POSIX ACL entry for the container's
 * uid, set on the tree and as its default (inherited by every entry made later, whoever makes it), gives that uid
 * what the bind mount promises (rwX, or rX for a read-only one) and nobody else anything. A worker that is not
 * root runs its containers as its own uid and needs none of this.
 */
export async function grantBindAccess(binds: readonly BindMount[], uid: number): Promise<void> {
  if (process.getuid?.() !== 0 || uid === 0) return;
  for (const b of binds) {
    const perms = b.readOnly ? 'rX' : 'rwX';
    try {
      await run('setfacl', ['-R', '-m', `u:${uid}:${perms},d:u:${uid}:${perms}`, b.path]);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT') {
        throw new Error(
          'setfacl is missing (Debian package `acl`): the docker runner needs it to share the data home with its containers',
        );
      }
      throw new Error(`setfacl on ${b.path} failed: ${e.stderr?.trim() || e.message}`);
    }
  }
}

/** The uid:gid containers run as: the worker's own when it is not root, else the image's non-root user. */
export function containerUser(image = { uid: 1000, gid: 1000 }): { uid: number; gid: number; user: string } {
  const uid = process.getuid?.() ?? image.uid;
  const gid = process.getgid?.() ?? image.gid;
  const pick = uid === 0 ? image : { uid, gid };
  return { ...pick, user: `${pick.uid}:${pick.gid}` };
}
