#!/usr/bin/env node
// First-run setup with no dependencies of its own: install packages when node_modules is missing or older than
// package-lock.json, compile src/ to dist/ when dist/ is missing or stale (what steps run), then build the pinned
// tools once (cached under ~/.cache/dyff-temporal). With --tests it also provides what the test suite runs against:
// fake-gcs-server, the Kubernetes control plane, and Chromium.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
const env = { ...process.env, PATH: `${process.env.PATH}:/usr/local/go/bin` };
// better-sqlite3 compiles from source where its prebuilt download is unreachable; use the local Node headers.
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
const run = (cmd, args) =>
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env });

if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  console.error('installing dependencies (npm ci)…');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env });
}
// A failed build (a type error while editing) is not fatal: dist/ stays unstamped and dyffctl runs the sources.
try {
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--if-stale'], {
    cwd: root,
    stdio: 'inherit',
  });
} catch {
  console.error('warning: npm run build failed; steps run the TypeScript sources (slower to start)');
}
run('bash', [join(root, 'scripts/install-temporal-cli.sh')]);

if (process.argv.includes('--tests')) {
  for (const tool of readdirSync(join(root, 'scripts/tools')).filter((f) => f.endsWith('.sh'))) {
    run('bash', [join(root, 'scripts/tools', tool)]);
  }
  // A Docker engine (installed and started when missing) and the project image for `runner: docker`; where none
  // can be started, the tests that need one skip and say why.
  try {
    execFileSync(process.execPath, [join(root, 'scripts/docker-engine.mjs'), '--quiet'], {
      stdio: 'inherit',
    });
    execFileSync(process.execPath, [join(root, 'scripts/docker-image.mjs'), '--quiet'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch {
    console.error('warning: no Docker engine or project image: the docker runner tests will skip');
  }
  // `docker compose` (built from the Go module proxy when the client has no plugin) and the images of
  // deploy/compose.local.yml, for the test that brings docker-compose.yml up.
  try {
    for (const s of ['docker-compose-install.mjs', 'docker-compose-images.mjs']) {
      execFileSync(process.execPath, [join(root, 'scripts', s), '--quiet'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env,
      });
    }
  } catch {
    console.error('warning: no docker compose or stack images: the docker-compose test will skip');
  }
  // The Kubernetes control plane takes ~12 minutes to build the first time; after that it is cached.
  run('bash', [join(root, 'scripts/k8s/build.sh')]);
  if (!existsSync('/usr/bin/chromium')) {
    if (process.getuid?.() === 0) {
      console.error('installing Chromium (Debian package) for the report page test…');
      execFileSync(
        'bash',
        [
          '-c',
          'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null',
        ],
        { stdio: 'inherit' },
      );
    } else {
      console.error(
        'warning: /usr/bin/chromium is missing: `sudo apt-get install chromium` for the report page test',
      );
    }
  }
}
