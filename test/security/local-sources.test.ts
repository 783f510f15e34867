import { spawnSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { newId } from '../../src/domain/ids.js';
import type { StepBench } from './helpers/steps.js';
import { stepBench } from './helpers/steps.js';

/** Attacks on local sources through the real fetch steps: one root (`allowed`), and everything else refused. */
let bench: StepBench;
let outside: string;

beforeAll(async () => {
  bench = await stepBench();
  outside = join(bench.root, 'outside');
  await mkdir(join(bench.allowed, 'folder'), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(join(outside, 'secret.txt'), 'platform secret');
  await writeFile(join(bench.allowed, 'folder', 'fine.csv'), 'a\n1\n');
});
afterAll(() => bench.cleanup());

const local = (path: string, include?: string) => ({ source: { kind: 'local', path, include } });

async function refused(spec: unknown, message: RegExp, step = 'fetch-data') {
  const id = newId();
  const run = await bench.run(step, id, spec);
  expect(run.code, run.lines.join('\n')).toBe(2);
  expect(run.last).toMatch(message);
  const category = step === 'fetch-data' ? 'rawdata' : 'models';
  expect((await bench.keys(category)).filter((k) => k.startsWith(id))).toEqual([]);
  return run;
}

describe('local sources stay under sources.localRoots', () => {
  it("the issue's /proc/self/environ, whatever the roots", async () => {
    await refused(
      local('/proc/self/environ'),
      /spec\.source\.path: refusing \/proc\/self\/environ: \/proc, \/sys and \/dev/,
    );
  });

  it('/proc/self/environ as a model source', async () => {
    await refused(local('/proc/self/environ'), /\/proc, \/sys and \/dev/, 'fetch-model');
  });

  it('a device file', async () => {
    await refused(local('/dev/zero'), /\/proc, \/sys and \/dev/);
  });

  it('a file outside every root', async () => {
    await refused(local(join(outside, 'secret.txt')), /not under a directory of sources\.localRoots/);
  });

  it("'..' climbing out of a root", async () => {
    await refused(
      local(`${bench.allowed}/../outside/secret.txt`),
      /not under a directory of sources\.localRoots/,
    );
  });

  it('a symlink inside a root that leads out of it', async () => {
    const link = join(bench.allowed, 'escape.txt');
    await symlink(join(outside, 'secret.txt'), link);
    await refused(
      local(link),
      /it leads to .*outside\/secret\.txt.*not under a directory of sources\.localRoots/,
    );
  });

  it('a symlink to /proc/self/environ', async () => {
    const link = join(bench.allowed, 'environ');
    await symlink('/proc/self/environ', link);
    await refused(local(link), /it leads to \/proc\/.*environ; \/proc, \/sys and \/dev are never sources/);
  });

  it('a folder source holding a symlink that leads out of the root', async () => {
    const dir = join(bench.allowed, 'mixed');
    await mkdir(dir);
    await writeFile(join(dir, 'ok.txt'), 'ok');
    await symlink(join(outside, 'secret.txt'), join(dir, 'leak.txt'));
    await refused(local(dir), /leak\.txt.*not under a directory of sources\.localRoots/);
  });

  it('a named pipe under the root', async () => {
    const fifo = join(bench.allowed, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    await refused(local(fifo), /not a regular file or directory/);
  });

  it('with runner: kubernetes and no roots configured, no local source at all', async () => {
    const config = loadConfig(
      { runner: 'kubernetes', dataHome: bench.root },
      { DYFF_CONFIG: '/nonexistent.yaml' },
    );
    expect(config.sources.localRoots).toEqual([]);
    // A step reads its roots from its environment: set but empty means none.
    expect(
      loadConfig({}, { DYFF_CONFIG: '/nonexistent.yaml', DYFF_LOCAL_ROOTS: '' }).sources.localRoots,
    ).toEqual([]);
    const none = await (await import('./helpers/steps.js')).stepBench({ localRoots: [] });
    try {
      const run = await none.run('fetch-data', newId(), local(join(bench.allowed, 'folder', 'fine.csv')));
      expect(run.code).toBe(2);
      expect(run.last).toMatch(/local sources are disabled here \(sources\.localRoots is empty\)/);
    } finally {
      await none.cleanup();
    }
  });

  it('a file under the root is still fetched (the roots are a boundary, not a ban)', async () => {
    const id = newId();
    const run = await bench.run('fetch-data', id, local(join(bench.allowed, 'folder')));
    expect(run.code, run.lines.join('\n')).toBe(0);
    expect(await bench.keys('rawdata')).toContain(`${id}/files/fine.csv`);
  });
});
