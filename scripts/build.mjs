#!/usr/bin/env node
// `npm run build`: compile src/ to dist/ (tsconfig.build.json) and stamp the result with the fingerprint of the
// sources it was compiled from (bin/build-stamp.mjs), which is what lets bin/dyffctl.mjs run dist/ instead of the
// TypeScript loader. With --if-stale it does nothing when dist/ is fresh (the install and the test setup call it
// that way; tsc takes a while on two cores). One build at a time per checkout: a second caller waits for the first
// and then finds dist/ fresh.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP, distState, sourceFingerprint } from '../bin/build-stamp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const lock = join(root, 'dist', '.building');

/** Build dist/ unless (with ifStale) it is fresh. Throws when tsc fails; dist/ then has no stamp. */
export async function build({ ifStale = false, log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  if (ifStale && distState(root).fresh) return false;
  await acquire();
  try {
    const state = distState(root);
    if (ifStale && state.fresh) return false; // built by the caller we waited for
    log(`building dist/ (${state.why ?? 'requested'}): tsc -p tsconfig.build.json…`);
    const sources = sourceFingerprint(root);
    // Unstamped while tsc writes: a step that starts meanwhile runs the sources, never a half-written tree.
    rmSync(join(dist, STAMP), { force: true });
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    writeFileSync(join(dist, STAMP), JSON.stringify({ sources, builtAt: new Date().toISOString() }));
    return true;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function acquire() {
  mkdirSync(dist, { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    // A builder that died mid-build leaves its lock behind: take it over (one with no pid yet is given 30 s).
    if (abandoned()) rmSync(lock, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 500));
  }
}

function abandoned() {
  try {
    const holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    if (holder) return !alive(holder);
  } catch {
    // no pid written yet
  }
  try {
    return Date.now() - statSync(lock).mtimeMs > 30_000;
  } catch {
    return false; // released meanwhile
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await build({ ifStale: process.argv.includes('--if-stale') });
  } catch {
    process.stderr.write('build failed: dist/ is left unstamped, so dyffctl runs the TypeScript sources\n');
    process.exitCode = 1;
  }
}
