import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * `dyffctl version`: the version, and which code runs: the compiled JavaScript (dist/, with the time it was built)
 * or the TypeScript sources through tsx (dist/ missing, or not built from src/ as it is now: bin/build-stamp.mjs).
 * Told by where this very module was loaded from, not by a flag that could disagree with it.
 */
export function versionMain(): number {
  const pkg = readJson(new URL('../../package.json', import.meta.url)) as { version?: string } | undefined;
  const compiled = !import.meta.url.endsWith('.ts');
  const stamp = compiled
    ? (readJson(new URL('../.build-stamp.json', import.meta.url)) as { builtAt?: string } | undefined)
    : undefined;
  const code = compiled
    ? `compiled JavaScript (dist/, built ${stamp?.builtAt ?? 'at an unknown time'})`
    : 'TypeScript sources through tsx (dist/ is missing or stale: npm run build)';
  // `dyffctl step` runs from the build's one-file bundle where there is one (scripts/build.mjs): bin/dyffctl.mjs
  // and bin/dyff-step.cjs, which a worker running from dist/ starts its local steps with.
  const bundle = new URL('./step.cjs', import.meta.url);
  const steps = !compiled
    ? 'the sources, as above'
    : existsSync(bundle)
      ? `one-file bundle (dist/cli/step.cjs), ${codeCacheState(fileURLToPath(bundle))}`
      : "dist/'s modules (no step bundle)";
  process.stdout.write(`dyffctl ${pkg?.version ?? '(unknown version)'}\ncode: ${code}\nsteps: ${steps}\n`);
  return 0;
}

/**
 * Whether this Node takes the bundle's code cache, as V8 itself judges it (bin/code-cache.cjs): a cache made by
 * another Node version, or under other V8 flags (`NODE_OPTIONS` included), is refused, and every step then compiles
 * the bundle as it starts.
 */
function codeCacheState(file: string): string {
  const { compileWithCodeCache } = createRequire(import.meta.url)('../../bin/code-cache.cjs') as {
    compileWithCodeCache(file: string): { state: 'accepted' | 'rejected' | 'absent' };
  };
  const { state } = compileWithCodeCache(file);
  if (state === 'accepted') return 'with its code cache';
  if (state === 'absent') return 'without its code cache';
  return (
    `with a code cache this Node refuses (made by another Node version, or under other V8 flags): steps compile ` +
    `the bundle as they start, slower; \`npm run build\` on this Node makes one for it, without V8 flags`
  );
}

function readJson(url: URL): unknown {
  try {
    return JSON.parse(readFileSync(url, 'utf8'));
  } catch {
    return undefined;
  }
}
