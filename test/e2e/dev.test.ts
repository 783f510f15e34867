import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveTemporalCli } from '../../src/dev/temporal-cli.js';
import { DYFFCTL, until } from '../support/worker-process.js';
import { freePort } from '../../src/adapters/process-group.js';

let dataHome: string;
beforeAll(async () => {
  dataHome = await mkdtemp(join(tmpdir(), 'dyff-dev-'));
});
afterAll(() => rm(dataHome, { recursive: true, force: true }));

/** Start `dyffctl dev`, wait for its worker, check the UI and search attributes, then Ctrl-C it. */
async function devSession(): Promise<string[]> {
  const [port, uiPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [DYFFCTL, 'dev', '--port', String(port), '--ui-port', String(uiPort)],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DYFF_DATA_HOME: dataHome,
        DYFF_CONFIG: join(dataHome, 'none.yaml'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  try {
    await until('the dev worker to poll', async () => out.includes('worker polling'), 90_000);
    const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
    expect(ui.status).toBe(200);
    const conn = await Connection.connect({ address: `127.0.0.1:${port}` });
    const { customAttributes } = await conn.operatorService.listSearchAttributes({ namespace: 'default' });
    await conn.close();
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    // The server went down with it.
    await expect(
      Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: '1s' }),
    ).rejects.toThrow();
    return Object.keys(customAttributes ?? {});
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * A database made by a plain dev server, which knows nothing of this project's search attributes. A server that
 * exits before it answers (a port another test's server took in the meantime) is started again on other ports.
 */
async function plainDatabase(): Promise<void> {
  const cli = await resolveTemporalCli();
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      cli!,
      [
        'server',
        'start-dev',
        '--headless',
        '--port',
        String(port),
        '--db-filename',
        join(dataHome, 'temporal.db'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const up = await until('the plain server', async () => {
      if (child.exitCode !== null) return 'exited';
      try {
        const c = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: '1s' });
        const { customAttributes } = await c.operatorService.listSearchAttributes({ namespace: 'default' });
        await c.close();
        expect(Object.keys(customAttributes ?? {})).not.toContain('DyffKind');
        return 'up';
      } catch {
        return false;
      }
    });
    if (up === 'up') {
      child.kill('SIGINT');
      await exited;
      return;
    }
    if (attempt === 3) throw new Error(`the plain server exited before it answered, three times:\n${err}`);
  }
}

it(
  'dyffctl dev serves Temporal and its UI, registers the search attributes on an existing database, and Ctrl-C stops both',
  { timeout: 180_000 },
  async () => {
    await plainDatabase();
    const attributes = await devSession();
    expect(attributes).toEqual(
      expect.arrayContaining(['DyffKind', 'DyffAccount', 'DyffEntityId', 'DyffStatus']),
    );
    // Again on the same database: registering is idempotent.
    expect(await devSession()).toEqual(expect.arrayContaining(['DyffKind', 'DyffStatus']));
  },
);
