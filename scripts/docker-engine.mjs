#!/usr/bin/env node
// A Docker engine for `runner: docker` and its tests, on this machine: when no daemon answers on the socket,
// install Debian's docker.io (when dockerd is missing and we are root) and start dockerd in the background, its log
// under ~/.cache/dyff-temporal/dockerd.log. Fast and silent when an engine already answers. Exit 0 with an engine
// up, 1 (with the reason on stderr) where none can be started; `--quiet` says nothing on success.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DOCKER_SOCKET = process.env.DOCKER_HOST?.startsWith('unix://')
  ? process.env.DOCKER_HOST.slice('unix://'.length)
  : '/var/run/docker.sock';
const cache = join(homedir(), '.cache', 'dyff-temporal');
const log = join(cache, 'dockerd.log');

/** true when a daemon answers `GET /_ping` on the socket. */
export function engineAnswers(socketPath = DOCKER_SOCKET, timeoutMs = 2000) {
  return new Promise((resolve) => {
    if (!existsSync(socketPath)) return resolve(false);
    const req = request({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/*
 * The networks this project makes (sessions' internal networks) come from one pool, and addresses of that pool
 * never leave the machine: a request to a container whose network is gone (an old session's endpoint) fails at
 * once with "host unreachable" instead of following the default route to whatever answers outside. The rules: look
 * the pool up in the main table without its default route (live bridges match their own routes), then fall
 * through to a table where the whole pool is unreachable. A separate table, because the engine refuses a pool that
 * overlaps a route of the main table.
 */
export const ADDRESS_POOL = '10.213.0.0/16';
const GUARD_TABLE = '213';

function guardPool() {
  if (process.getuid?.() !== 0 || !which('ip')) return 'cannot guard the address pool (needs root and ip)';
  const rules = execFileSync('ip', ['rule', 'show'], { encoding: 'utf8' });
  const ip = (args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (!rules.includes(`to ${ADDRESS_POOL} lookup main suppress_prefixlength 0`)) {
    ip(['rule', 'add', 'to', ADDRESS_POOL, 'lookup', 'main', 'suppress_prefixlength', '0', 'pref', '100']);
  }
  if (!rules.includes(`to ${ADDRESS_POOL} lookup ${GUARD_TABLE}`)) {
    ip(['rule', 'add', 'to', ADDRESS_POOL, 'lookup', GUARD_TABLE, 'pref', '101']);
  }
  ip(['route', 'replace', 'unreachable', ADDRESS_POOL, 'table', GUARD_TABLE]);
  return guardHost();
}

/*
 * Containers open no connection to this machine itself: not to the worker's health port, not to anything else that
 * listens on all addresses. Connections the host opens (the worker's readiness probes) and their replies pass.
 * Containers reach each other (a session from its evaluate step) through forwarding, which this does not touch.
 */
const HOST_GUARD = ['INPUT', '-s', ADDRESS_POOL, '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP'];

function guardHost() {
  if (!which('iptables')) return 'iptables is missing: cannot keep containers from the host';
  try {
    execFileSync('iptables', ['-w', '-C', ...HOST_GUARD], { stdio: 'ignore' });
  } catch {
    execFileSync('iptables', ['-w', '-I', ...HOST_GUARD], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return undefined;
}

/** Start an engine if none answers; resolves with undefined when one is up, or the reason none could be. */
export async function ensureEngine({ quiet = false } = {}) {
  if (await engineAnswers()) {
    if (process.getuid?.() === 0) {
      const unguarded = guardPool();
      if (unguarded) return unguarded;
    }
    return undefined;
  }
  const isRoot = process.getuid?.() === 0;
  if (!which('dockerd')) {
    if (!isRoot) return 'dockerd is not installed and this is not root: `sudo apt-get install docker.io`';
    if (!which('apt-get')) return 'dockerd is not installed and there is no apt-get to install docker.io';
    if (!quiet) console.error('installing the Docker engine (Debian docker.io)…');
    try {
      execFileSync(
        'bash',
        [
          '-c',
          'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io acl >/dev/null',
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
    } catch (err) {
      return `apt-get install docker.io failed: ${err.message}`;
    }
  }
  if (!isRoot) return `no Docker engine answers on ${DOCKER_SOCKET}, and only root starts dockerd here`;
  const unguarded = guardPool();
  if (unguarded) return unguarded;
  mkdirSync(cache, { recursive: true });
  if (!quiet) console.error(`starting dockerd (log: ${log})…`);
  const out = openSync(log, 'a');
  // Its own session: dockerd outlives this script and the test run that started it, like a system service.
  const child = spawn(
    which('dockerd'),
    ['--host', `unix://${DOCKER_SOCKET}`, '--default-address-pool', `base=${ADDRESS_POOL},size=24`],
    {
      detached: true,
      stdio: ['ignore', out, out],
    },
  );
  let exited;
  child.once('exit', (code) => (exited = code ?? 'signal'));
  child.unref();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await engineAnswers()) return undefined;
    if (exited !== undefined) return `dockerd exited (${exited}) at start: see ${log}`;
    await new Promise((r) => setTimeout(r, 250));
  }
  return `dockerd did not answer on ${DOCKER_SOCKET} within 60 s: see ${log}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quiet = process.argv.includes('--quiet');
  const why = await ensureEngine({ quiet });
  if (why) {
    console.error(`no Docker engine: ${why}`);
    process.exit(1);
  }
  if (!quiet) console.error(`Docker engine up on ${DOCKER_SOCKET}`);
}
