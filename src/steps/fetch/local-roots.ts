import type { Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { ErrorType } from '../../domain/errors.js';
import { invalidInput } from '../errors.js';

/** Kernel and device trees: never a data source, whatever the roots say (they hold the process's own secrets). */
const FORBIDDEN = ['/proc', '/sys', '/dev'];

const within = (path: string, root: string) =>
  path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);

// A step's roots do not change while it runs; a folder of thousands of files resolves them once.
const rootCache = new Map<string, Promise<string | undefined>>();
const realRoot = (root: string) => {
  let real = rootCache.get(root);
  if (!real) rootCache.set(root, (real = realpath(root).catch(() => undefined)));
  return real;
};

/**
 * A local source path, checked against `sources.localRoots`: resolved with realpath (so a symlink counts where it
 * points), inside a root, outside /proc, /sys and /dev, and a regular file or a directory. Returns the real path
 * and its stats. `where` names the spec field in errors.
 */
export async function resolveLocalSource(
  path: string,
  roots: readonly string[],
  where = 'spec.source.path',
): Promise<{ real: string; info: Stats }> {
  if (roots.length === 0) {
    throw invalidInput(`${where}: local sources are disabled here (sources.localRoots is empty)`);
  }
  const forbidden = (p: string) => FORBIDDEN.some((f) => within(p, f));
  if (forbidden(path))
    throw invalidInput(`${where}: refusing ${path}: /proc, /sys and /dev are never sources`);
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw invalidInput(`${where}: ${path} does not exist`, ErrorType.NotFound);
  }
  if (forbidden(real)) {
    throw invalidInput(
      `${where}: refusing ${path}: it leads to ${real}; /proc, /sys and /dev are never sources`,
    );
  }
  const realRoots = await Promise.all(roots.map(realRoot));
  if (!realRoots.some((r) => r !== undefined && within(real, r))) {
    const leads = real === path ? '' : ` (it leads to ${real})`;
    throw invalidInput(
      `${where}: refusing ${path}${leads}: not under a directory of sources.localRoots (${roots.join(', ')})`,
    );
  }
  const info = await stat(real);
  if (!info.isFile() && !info.isDirectory()) {
    throw invalidInput(
      `${where}: refusing ${path}: not a regular file or directory (device, pipe or socket)`,
    );
  }
  return { real, info };
}
