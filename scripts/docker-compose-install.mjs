#!/usr/bin/env node
// Docker Compose for this machine, whose docker client has no compose plugin and which reaches no release
// download: when `docker compose version` fails, build github.com/docker/compose/v5 once from the Go module proxy
// (a wrapper module, since `go install pkg@version` refuses a go.mod with exclude directives), cache the binary
// under ~/.cache/dyff-temporal/docker-compose-<version>/ and link it as the CLI plugin
// ~/.docker/cli-plugins/docker-compose, so that `docker compose …` works. Quick and silent when it already does.
// Usage: node scripts/docker-compose-install.mjs [--quiet]; exit 1 (with the reason) where it cannot be had.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const COMPOSE_VERSION = process.env.DOCKER_COMPOSE_VERSION ?? 'v5.6.0';
const MODULE = 'github.com/docker/compose/v5';
const cache = join(process.env.DYFF_CACHE_DIR ?? join(homedir(), '.cache', 'dyff-temporal'));
const dir = join(cache, `docker-compose-${COMPOSE_VERSION}`);
export const COMPOSE_BIN = join(dir, 'docker-compose');
const pluginDir = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'cli-plugins');
const plugin = join(pluginDir, 'docker-compose');

/** The compose version `docker compose` reports, or undefined when the client has no working plugin. */
export function composeVersion() {
  try {
    return execFileSync('docker', ['compose', 'version', '--short'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function goBinary() {
  for (const p of [process.env.GO, '/usr/local/go/bin/go', '/usr/bin/go'].filter(Boolean)) {
    if (existsSync(p)) return p;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Build the pinned release into the cache (a few minutes the first time; the Go build cache makes reruns quick). */
function build(log) {
  const go = goBinary();
  if (!go) throw new Error('no Go toolchain to build Docker Compose (install Go 1.25+, or a compose plugin)');
  const work = join(dir, 'module');
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'go.mod'), 'module dyffcompose\n\ngo 1.25\n');
  // A blank import keeps the module a requirement through `go mod tidy`.
  writeFileSync(join(work, 'tools.go'), `//go:build tools\n\npackage tools\n\nimport _ "${MODULE}/cmd"\n`);
  const env = { ...process.env, GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' };
  const go_ = (args) => execFileSync(go, args, { cwd: work, env, stdio: ['ignore', 'ignore', 'inherit'] });
  log(
    `building Docker Compose ${COMPOSE_VERSION} from the Go module proxy into ${dir} (once; a few minutes)…`,
  );
  go_(['get', `${MODULE}@${COMPOSE_VERSION}`]);
  go_(['mod', 'tidy']);
  const tmp = `${COMPOSE_BIN}.tmp`;
  go_([
    'build',
    '-ldflags',
    `-s -w -X ${MODULE}/internal.Version=${COMPOSE_VERSION}`,
    '-o',
    tmp,
    `${MODULE}/cmd`,
  ]);
  renameSync(tmp, COMPOSE_BIN);
}

function linkPlugin() {
  mkdirSync(pluginDir, { recursive: true });
  let current;
  try {
    current = lstatSync(plugin).isSymbolicLink() ? readlinkSync(plugin) : 'a file';
  } catch {
    current = undefined;
  }
  if (current === COMPOSE_BIN) return;
  rmSync(plugin, { force: true });
  symlinkSync(COMPOSE_BIN, plugin);
}

/** Resolves with undefined once `docker compose` works, or the reason it cannot. */
export function ensureCompose({ quiet = false } = {}) {
  const log = (m) => quiet || console.error(m);
  if (composeVersion()) return undefined;
  try {
    if (!existsSync(COMPOSE_BIN)) build(log);
    linkPlugin();
  } catch (err) {
    return `could not install Docker Compose ${COMPOSE_VERSION}: ${err.message}`;
  }
  if (!composeVersion()) return `${plugin} is installed, yet \`docker compose version\` fails`;
  log(`docker compose ${composeVersion()} (plugin: ${plugin})`);
  return undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const why = ensureCompose({ quiet: process.argv.includes('--quiet') });
  if (why) {
    console.error(why);
    process.exit(1);
  }
}
