import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { DYFFCTL, cliEnv, until } from '../support/worker-process.js';
import { Harness } from './support/harness.js';

/*
 * The other half of riding out an outage: a server that does not come back. `dyffctl create --wait` keeps
 * retrying for temporal.unreachableTimeoutSeconds, then exits 4 with one line, never a stack trace.
 */
let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
}, 120_000);
afterAll(async () => {
  await h?.close();
});

it(
  'a server that stays down: --wait says it is retrying, then gives up with exit code 4 and one line',
  { timeout: 180_000 },
  async () => {
    const file = join(h.config.dataHome, 'ds.yaml');
    await writeFile(
      file,
      'kind: Dataset\naccount: faults\nspec:\n  source: { kind: url, url: "http://127.0.0.1:9/x.csv" }\n',
    );
    // No worker: the Dataset stays Created, so the wait is still going when the server dies.
    const cli = spawn(process.execPath, [DYFFCTL, 'create', '-f', file, '--wait'], {
      env: { ...cliEnv(h.config), DYFF_TEMPORAL_UNREACHABLE_TIMEOUT_SECONDS: '4' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    cli.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));
    await until('the Dataset to be created and waited on', async () => stdout.includes('created'), 60_000);
    await h.server.kill9();
    const code = await exited;
    expect(code, stderr).toBe(ExitCode.Unavailable);
    expect(stderr).toContain('Temporal unreachable, retrying');
    const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/unreachable for \d+ s; gave up/);
    expect(stderr).not.toMatch(/\n\s+at /);
  },
);
