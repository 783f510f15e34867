#!/usr/bin/env node
// First-run setup with no dependencies of its own: install packages when node_modules is missing or older than
// package-lock.json, then make sure the pinned Temporal CLI is built (cached outside the repository).
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
const env = { ...process.env };
// better-sqlite3 compiles from source where its prebuilt download is unreachable; use the local Node headers.
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';

if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  console.error('installing dependencies (npm ci)…');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env });
}
execFileSync('bash', [join(root, 'scripts/install-temporal-cli.sh')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env });
