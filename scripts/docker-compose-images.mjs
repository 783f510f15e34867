#!/usr/bin/env node
// The images deploy/compose.local.yml runs, built on this machine where the registry's cannot be pulled. One
// command builds (or finds up to date) all four; like the project image, each carries a fingerprint of what went
// into it and is rebuilt only when that changes:
//   dyff-temporal-server:local    the cached Temporal CLI (scripts/install-temporal-cli.sh) running start-dev
//   dyff-datastore-emulator:local the host's cloud-datastore-emulator on a JRE jlinked from the host's JDK
//   dyff-fake-gcs:local           fake-gcs-server (scripts/tools/fake-gcs-server.sh)
//   dyff-temporal:dev             the project image (scripts/docker-image.mjs)
// Each is the Debian base (dyff-base:trixie-node20) plus those files: nothing is downloaded inside an image.
// Usage: node scripts/docker-compose-images.mjs [--project-tag dyff-temporal:dev] [--quiet]; prints the image names.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE_IMAGE, PROJECT_IMAGE, ensureBase, ensureProjectImage } from './docker-image.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const images = join(root, 'deploy', 'compose-images');
const cache = process.env.DYFF_CACHE_DIR ?? join(homedir(), '.cache', 'dyff-temporal');
const FINGERPRINT_LABEL = 'io.dyff.fingerprint';
export const DATASTORE_EMULATOR_DIR =
  process.env.DYFF_DATASTORE_EMULATOR_DIR ?? '/usr/lib/google-cloud-sdk/platform/cloud-datastore-emulator';
export const STACK_IMAGES = {
  temporal: 'dyff-temporal-server:local',
  datastore: 'dyff-datastore-emulator:local',
  fakeGcs: 'dyff-fake-gcs:local',
};

const docker = (args) =>
  execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
function inspect(ref, format) {
  try {
    return docker(['image', 'inspect', '--format', format, ref]);
  } catch {
    return undefined;
  }
}

/** A tool's path, as its install script prints it (building it the first time). */
const toolPath = (script) =>
  execFileSync('bash', [join(root, script)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, PATH: `${process.env.PATH}:/usr/local/go/bin` },
  })
    .trim()
    .split('\n')
    .pop();

/** What identifies a file tree cheaply: every path with its size and mtime (content for small files). */
function treeDigest(hash, path) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) treeDigest(hash, join(path, name));
  } else {
    hash.update(`${path}\0${st.size}\0${st.mtimeMs}\0`);
    if (st.size < 1 << 20) hash.update(readFileSync(path));
  }
}

/** A JRE with every module of the host's JDK (no debug data, headers or man pages), made once with jlink. */
export function ensureJre(log) {
  const jlink = [
    '/usr/lib/jvm/java-17-openjdk-amd64/bin/jlink',
    process.env.JAVA_HOME && join(process.env.JAVA_HOME, 'bin', 'jlink'),
  ]
    .filter(Boolean)
    .find((p) => existsSync(p));
  if (!jlink) throw new Error('no jlink: the Datastore emulator image needs a JDK 17+ (set JAVA_HOME)');
  const jdk = dirname(dirname(jlink));
  const version =
    readFileSync(join(jdk, 'release'), 'utf8').match(/JAVA_VERSION="([^"]+)"/)?.[1] ?? 'unknown';
  const jre = join(cache, `jre-${version}`, 'jre');
  if (existsSync(join(jre, 'bin', 'java'))) return jre;
  log(`jlink: a JRE from ${jdk} into ${jre}…`);
  rmSync(`${jre}.tmp`, { recursive: true, force: true });
  mkdirSync(dirname(jre), { recursive: true });
  execFileSync(
    jlink,
    [
      '--add-modules',
      'ALL-MODULE-PATH',
      '--strip-debug',
      '--no-header-files',
      '--no-man-pages',
      '--compress=2',
    ].concat(['--output', `${jre}.tmp`]),
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  renameSync(`${jre}.tmp`, jre);
  return jre;
}

/**
 * `docker build` of deploy/compose-images/<name>.Dockerfile on the base, its context the Dockerfile and the given
 * files (each [directory, entry]) streamed as a tar; skipped when the image's fingerprint matches.
 */
async function buildImage({ tag, dockerfile, files, log, quiet }) {
  const h = createHash('sha256').update(inspect(BASE_IMAGE, '{{.Id}}') ?? '');
  treeDigest(h, join(images, dockerfile));
  for (const [dir, entry] of files) treeDigest(h, join(dir, entry));
  const fp = h.digest('hex').slice(0, 32);
  if (inspect(tag, `{{index .Config.Labels "${FINGERPRINT_LABEL}"}}`) === fp) return tag;
  log(`building ${tag} (${dockerfile})…`);
  const tarArgs = ['-c', '--dereference', '-C', images, dockerfile];
  for (const [dir, entry] of files) tarArgs.push('-C', dir, entry);
  const tar = spawn('tar', tarArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  const build = spawn(
    'docker',
    ['build', '-f', dockerfile, '--build-arg', `BASE_IMAGE=${BASE_IMAGE}`].concat([
      '--label',
      `${FINGERPRINT_LABEL}=${fp}`,
      '-t',
      tag,
      '-',
    ]),
    {
      stdio: ['pipe', quiet ? 'ignore' : 'inherit', 'inherit'],
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    },
  );
  tar.stdout.pipe(build.stdin);
  const code = await new Promise((resolve) => build.once('exit', resolve));
  if (code !== 0)
    throw new Error(`docker build of ${tag} (deploy/compose-images/${dockerfile}) failed (exit ${code})`);
  return tag;
}

const split = (path) => [dirname(path), basename(path)];

/** Build (or find up to date) every image of deploy/compose.local.yml; resolves with their tags. */
export async function ensureStackImages({ quiet = false, projectTag = PROJECT_IMAGE } = {}) {
  const log = (m) => quiet || console.error(m);
  // Engine, base image and project image first: everything else is built on that base.
  const project = await ensureProjectImage({ quiet, tag: projectTag });
  ensureBase(log);
  if (!existsSync(join(DATASTORE_EMULATOR_DIR, 'CloudDatastore.jar'))) {
    throw new Error(
      `the Datastore emulator is missing: expected ${DATASTORE_EMULATOR_DIR} (the Google Cloud CLI's cloud-datastore-emulator component; or set DYFF_DATASTORE_EMULATOR_DIR)`,
    );
  }
  const opts = { log, quiet };
  const temporal = await buildImage({
    tag: STACK_IMAGES.temporal,
    dockerfile: 'temporal.Dockerfile',
    files: [split(toolPath('scripts/install-temporal-cli.sh'))],
    ...opts,
  });
  const fakeGcs = await buildImage({
    tag: STACK_IMAGES.fakeGcs,
    dockerfile: 'fake-gcs.Dockerfile',
    files: [split(toolPath('scripts/tools/fake-gcs-server.sh'))],
    ...opts,
  });
  const datastore = await buildImage({
    tag: STACK_IMAGES.datastore,
    dockerfile: 'datastore.Dockerfile',
    files: [[images, 'datastore-entrypoint.sh'], split(ensureJre(log)), split(DATASTORE_EMULATOR_DIR)],
    ...opts,
  });
  return { project, temporal, datastore, fakeGcs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const i = process.argv.indexOf('--project-tag');
    const tags = await ensureStackImages({
      quiet: process.argv.includes('--quiet'),
      projectTag: i > 0 ? process.argv[i + 1] : PROJECT_IMAGE,
    });
    console.log(Object.values(tags).join('\n'));
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
