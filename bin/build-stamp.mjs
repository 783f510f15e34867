// Whether dist/ (the compiled JavaScript) was built from the sources now in src/. Plain JavaScript with no
// dependencies, because it decides whether the TypeScript loader is needed at all: bin/dyffctl.mjs asks on every
// start (each step of each job), scripts/build.mjs writes the stamp.
//
// The fingerprint of the sources is (entries, bytes, newest mtime) over src/ and the two tsconfig files, taken with
// one stat per entry (about 200, a few milliseconds). An edit changes the newest mtime (or the size), a new or
// deleted file changes the count and its directory's mtime, and a checkout of another branch sets new mtimes. The
// build records the fingerprint taken *before* it compiles, so an edit made during a build makes that build stale.
// Equality, not "newer than", so a clock set back or files unpacked with old mtimes still count as a change.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const STAMP = '.build-stamp.json';
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

/** The fingerprint of what dist/ is compiled from, or undefined where there are no sources (an image ships dist only). */
export function sourceFingerprint(root) {
  if (!existsSync(join(root, 'src'))) return undefined;
  const acc = { entries: 0, bytes: 0, newest: 0 };
  const add = (path) => {
    const s = statSync(path);
    acc.entries += 1;
    acc.bytes += s.isDirectory() ? 0 : s.size;
    if (s.mtimeMs > acc.newest) acc.newest = s.mtimeMs;
    return s;
  };
  const walk = (dir) => {
    add(dir);
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else add(path);
    }
  };
  walk(join(root, 'src'));
  for (const f of CONFIGS) if (existsSync(join(root, f))) add(join(root, f));
  return `${acc.entries}:${acc.bytes}:${acc.newest}`;
}

/** The stamp the last complete build wrote, or undefined (never built, build under way or failed). */
export function readStamp(root) {
  try {
    return JSON.parse(readFileSync(join(root, 'dist', STAMP), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Whether dist/ may run in place of src/: a complete build whose stamp matches the sources now. Returns
 * `{ fresh, why }`; `why` says what is wrong when it is not (for `dyffctl version` and the build's log).
 */
export function distState(root) {
  const stamp = readStamp(root);
  if (!stamp || !existsSync(join(root, 'dist', 'cli', 'main.js'))) return { fresh: false, why: 'not built' };
  const now = sourceFingerprint(root);
  if (now !== undefined && now !== stamp.sources)
    return { fresh: false, why: 'src/ changed since the build' };
  return { fresh: true, builtAt: stamp.builtAt };
}
