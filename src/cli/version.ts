import { existsSync, readFileSync } from 'node:fs';
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
      ? `one-file bundle (dist/cli/step.cjs), ${existsSync(`${fileURLToPath(bundle)}.cache`) ? 'with' : 'without'} its code cache`
      : "dist/'s modules (no step bundle)";
  process.stdout.write(`dyffctl ${pkg?.version ?? '(unknown version)'}\ncode: ${code}\nsteps: ${steps}\n`);
  return 0;
}

function readJson(url: URL): unknown {
  try {
    return JSON.parse(readFileSync(url, 'utf8'));
  } catch {
    return undefined;
  }
}
