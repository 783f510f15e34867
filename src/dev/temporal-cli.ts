import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { writeFileWhole } from '../file-whole.js';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/install-temporal-cli.sh');

/**
 * The Temporal CLI to run the dev server with, built once by scripts/install-temporal-cli.sh; undefined when
 * neither a binary nor Go is available, in which case the SDK downloads its own.
 */
export async function resolveTemporalCli(): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('bash', [SCRIPT], { maxBuffer: 1 << 20 });
    return stdout.trim().split('\n').at(-1);
  } catch (err) {
    if ((err as { code?: number }).code === 3) return undefined;
    throw new Error(`could not provide the Temporal CLI: ${(err as Error).message}`);
  }
}

/**
 * The SDK stops the dev server it started by killing it, but a process that dies first (SIGKILL, a crash, the OOM
 * killer) cannot, and the server then outlived it, holding its ports and its database: the next `dyffctl dev` could
 * not start. So the server is started through this script: it leaves a watcher that polls the process that started
 * it once a second and ends the server (SIGTERM, SIGKILL after 10 s) when that process is gone, then becomes the
 * server itself (exec), so that the SDK's own kill still reaches the server directly. (The tests tie their own
 * servers by a pipe instead, test/support/process-tree.ts; the SDK starts this one with no stdin to hold.)
 */
export function tiedTemporalCliScript(cli: string): string {
  const quoted = `'${cli.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
# Written by dyff-temporal (src/dev/temporal-cli.ts): the Temporal CLI, ended with the process that started it.
owner=$PPID
self=$$
(
  while kill -0 "$owner" 2>/dev/null && kill -0 "$self" 2>/dev/null; do sleep 1; done
  if ! kill -0 "$owner" 2>/dev/null && kill -TERM "$self" 2>/dev/null; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$self" 2>/dev/null || exit 0; sleep 1; done
    kill -KILL "$self" 2>/dev/null
  fi
) </dev/null >/dev/null 2>&1 &
exec ${quoted} "$@"
`;
}

/**
 * tiedTemporalCliScript for `cli`, written once per content beside it or, where that directory is not writable (a
 * CLI installed system-wide), under the temp directory; returns its path. Where neither can be written, `cli`
 * itself: the server then runs untied, as it did before.
 */
export function tiedTemporalCli(cli: string): string {
  const script = tiedTemporalCliScript(cli);
  const key = createHash('sha256').update(script).digest('hex').slice(0, 16);
  for (const dir of [dirname(cli), join(tmpdir(), `dyff-temporal-${process.getuid?.() ?? 'user'}`)]) {
    const beside = dir === dirname(cli);
    const file = join(dir, beside ? 'temporal-tied.sh' : `temporal-tied-${key}.sh`);
    try {
      if (readOrUndefined(file) !== script) {
        // The CLI's own directory exists; the temp one is made the first time.
        if (!beside) mkdirSync(dir, { recursive: true, mode: 0o700 });
        // Another process may be writing the same script at the same moment.
        writeFileWhole(file, script, 0o755);
      }
      // Linux refuses X_OK on a file system mounted noexec, where the script could not run.
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not writable or not executable here: the next place
    }
  }
  return cli;
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
