#!/usr/bin/env node
// The project image built on this machine, where no registry image can be pulled:
//  1. a base image from Debian trixie (debootstrap minbase + nodejs + ca-certificates), its root filesystem cached
//     as a tarball under ~/.cache/dyff-temporal/base and `docker import`ed as dyff-base:trixie-node20, with this
//     machine's own Node binary as /usr/local/bin/node (first on PATH). Trixie's Node 20.19.2, with the node-fetch
//     the GCS client uses, loses some chunked replies on kept-alive connections ("Premature close"); the host's
//     Node reads the same replies, and it is the Node that compiled node_modules;
//  2. the project image (`dyff-temporal:dev`) from the Dockerfile's `prebuilt` stage on that base: the compiled
//     dist/ and this checkout's production node_modules (better-sqlite3 already compiled here, for the same
//     Node), so nothing is downloaded or compiled inside the image.
// The project image is labelled with a fingerprint of what went into it (base image id, Dockerfile, lockfile,
// installed modules, bin/, dist/), and a build is skipped when the image with that fingerprint exists.
// Usage: node scripts/docker-image.mjs [--tag dyff-temporal:dev] [--quiet] [--base-only]; prints the image tag.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
} from 'node:fs';

import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureEngine } from './docker-engine.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BASE_IMAGE = 'dyff-base:trixie-node20';
export const PROJECT_IMAGE = 'dyff-temporal:dev';
const FINGERPRINT_LABEL = 'io.dyff.fingerprint';
/** The base image's label naming the Node it carries: a base made with another Node is imported again. */
const NODE_LABEL = 'io.dyff.node';
const baseDir = join(homedir(), '.cache', 'dyff-temporal', 'base');
const baseTar = join(baseDir, 'trixie-node20.tar');
const MIRROR = process.env.DYFF_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

const docker = (args, opts = {}) =>
  execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts }).trim();
function imageId(ref) {
  try {
    return docker(['image', 'inspect', '--format', '{{.Id}}', ref]);
  } catch {
    return undefined;
  }
}

/** The base image: imported from the cached tarball, which debootstrap makes once (about a minute). */
export function ensureBase(log) {
  if (imageId(BASE_IMAGE) && baseNode() === process.version) return;
  if (!existsSync(baseTar)) {
    if (!existsSync('/usr/sbin/debootstrap')) {
      log('installing debootstrap…');
      execFileSync(
        'bash',
        ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null'],
        {
          stdio: 'inherit',
        },
      );
    }
    const rootfs = join(baseDir, 'rootfs');
    execFileSync('rm', ['-rf', rootfs]);
    mkdirSync(baseDir, { recursive: true });
    log(`debootstrap trixie (minbase + nodejs) from ${MIRROR}…`);
    execFileSync(
      'debootstrap',
      ['--variant=minbase', '--include=nodejs,ca-certificates', 'trixie', rootfs, MIRROR],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    // What a container never needs: package lists and the download cache.
    execFileSync('bash', [
      '-c',
      `rm -rf ${rootfs}/var/cache/apt/archives/*.deb ${rootfs}/var/lib/apt/lists/*`,
    ]);
    execFileSync('tar', ['-C', rootfs, '-cf', `${baseTar}.tmp`, '.']);
    renameSync(`${baseTar}.tmp`, baseTar);
    execFileSync('rm', ['-rf', rootfs]);
  }
  log(`importing ${BASE_IMAGE} with Node ${process.version} (${process.execPath})…`);
  // The cached root filesystem plus this machine's Node binary, appended to a copy of the tarball.
  const staging = join(baseDir, 'node-layer');
  execFileSync('rm', ['-rf', staging, `${baseTar}.import`]);
  mkdirSync(join(staging, 'usr', 'local', 'bin'), { recursive: true });
  copyFileSync(realpathSync(process.execPath), join(staging, 'usr', 'local', 'bin', 'node'));
  chmodSync(join(staging, 'usr', 'local', 'bin', 'node'), 0o755);
  copyFileSync(baseTar, `${baseTar}.import`);
  execFileSync('tar', ['-rf', `${baseTar}.import`, '-C', staging, './usr/local/bin/node']);
  docker([
    'import',
    '--change',
    `LABEL ${NODE_LABEL}=${process.version}`,
    '--change',
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change',
    'ENV LANG=C.UTF-8',
    '--change',
    'CMD ["/bin/bash"]',
    `${baseTar}.import`,
    BASE_IMAGE,
  ]);
  execFileSync('rm', ['-rf', staging, `${baseTar}.import`]);
}

/** The Node version the base image was made with (its label), if it has one. */
function baseNode() {
  try {
    return docker(['image', 'inspect', '--format', `{{index .Config.Labels "${NODE_LABEL}"}}`, BASE_IMAGE]);
  } catch {
    return undefined;
  }
}

/** The production packages installed in node_modules, as paths relative to the directory holding it. */
function productionModules(nodeModules) {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], {
    cwd: dirname(nodeModules),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const parent = dirname(nodeModules);
  const all = [
    ...new Set(
      out
        .split('\n')
        .filter((p) => p.startsWith(nodeModules + '/'))
        .map((p) => relative(parent, p)),
    ),
  ].sort();
  // A package nested in another's node_modules comes with its parent's directory: listed twice, tar would store
  // the second copy as a hard link to the first.
  const kept = [];
  for (const p of all) if (!kept.some((k) => p.startsWith(k + '/'))) kept.push(p);
  return kept;
}

function hashTree(hash, dir) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, e.name);
    if (e.isDirectory()) hashTree(hash, path);
    else if (e.isFile()) hash.update(relative(root, path)).update(readFileSync(path));
  }
}

const fingerprint = (...parts) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);

function labelOf(ref) {
  if (!imageId(ref)) return undefined;
  return docker(['image', 'inspect', '--format', `{{index .Config.Labels "${FINGERPRINT_LABEL}"}}`, ref]);
}

/** `docker build` of one Dockerfile stage from a tar stream of the given paths (relative to their `-C` roots). */
async function buildStage({ target, from, fp, tag, tarArgs, quiet }) {
  const tar = spawn('tar', ['-c', '-C', root, 'Dockerfile', 'package.json', 'bin', 'dist', ...tarArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const args = ['build', '--target', target, '--build-arg', `NODE_IMAGE=${from}`];
  const build = spawn('docker', [...args, '--label', `${FINGERPRINT_LABEL}=${fp}`, '-t', tag, '-'], {
    stdio: ['pipe', quiet ? 'ignore' : 'inherit', 'inherit'],
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
  });
  tar.stdout.pipe(build.stdin);
  const code = await new Promise((resolve) => build.once('exit', resolve));
  if (code !== 0) throw new Error(`docker build --target ${target} (${tag}) failed (exit ${code})`);
}

/**
 * Build (or find up to date) the project image; resolves with its tag. Two layers of caching: the modules image
 * (hundreds of MB, sent to the engine only when the installed modules change) and the project image on it.
 */
export async function ensureProjectImage({ tag = PROJECT_IMAGE, quiet = false } = {}) {
  const log = (m) => quiet || console.error(m);
  const why = await ensureEngine({ quiet });
  if (why) throw new Error(`no Docker engine: ${why}`);
  ensureBase(log);
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--if-stale'], {
    cwd: root,
    stdio: quiet ? 'ignore' : 'inherit',
  });
  const nodeModules = realpathSync(join(root, 'node_modules'));
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const modulesFp = fingerprint(
    imageId(BASE_IMAGE),
    dockerfile,
    readFileSync(join(root, 'package-lock.json'), 'utf8'),
    // npm rewrites this file on every install: a changed module tree changes its mtime.
    statSync(join(nodeModules, '.package-lock.json')).mtimeMs,
  );
  const modulesTag = `dyff-modules:${modulesFp.slice(0, 12)}`;
  if (labelOf(modulesTag) !== modulesFp) {
    log(`building ${modulesTag} (production node_modules on ${BASE_IMAGE})…`);
    const modules = productionModules(nodeModules);
    // node_modules from wherever it really lives (a worktree links it), so no .dockerignore is involved.
    const tarArgs = ['-C', dirname(nodeModules), ...modules];
    await buildStage({
      target: 'prebuilt-modules',
      from: BASE_IMAGE,
      fp: modulesFp,
      tag: modulesTag,
      tarArgs,
      quiet,
    });
  }
  const h = createHash('sha256');
  hashTree(h, join(root, 'bin'));
  hashTree(h, join(root, 'dist'));
  const fp = fingerprint(
    imageId(modulesTag),
    dockerfile,
    readFileSync(join(root, 'package.json'), 'utf8'),
    h.digest('hex'),
  );
  if (labelOf(tag) === fp) return tag;
  log(`building ${tag} on ${modulesTag}…`);
  await buildStage({ target: 'prebuilt', from: modulesTag, fp, tag, tarArgs: [], quiet });
  return tag;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--base-only')) {
    const why = await ensureEngine({ quiet: true });
    if (why) {
      console.error(`no Docker engine: ${why}`);
      process.exit(1);
    }
    ensureBase((m) => console.error(m));
    console.log(BASE_IMAGE);
    process.exit(0);
  }
  const i = process.argv.indexOf('--tag');
  const tag = i > 0 ? process.argv[i + 1] : PROJECT_IMAGE;
  try {
    console.log(await ensureProjectImage({ tag, quiet: process.argv.includes('--quiet') }));
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
