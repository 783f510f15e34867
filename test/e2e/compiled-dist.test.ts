import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DYFFCTL_COMMAND, stepCommand } from '../../src/adapters/index.js';
import { LocalProcessJobRunner } from '../../src/adapters/job-runner/local-process.js';
import { freePort } from '../../src/adapters/process-group.js';
import { configEnv, loadConfig } from '../../src/config.js';

const REPO = resolve(import.meta.dirname, '../..');
const node = promisify(execFile);

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'dyff-compiled-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('local jobs run the compiled JavaScript', () => {
  // The test setup builds dist/ when stale; a job must then not go through the TypeScript loader.
  it('a job started by the local runner runs dist/, and a step run that way does its work', async () => {
    const sources = join(home, 'sources');
    await mkdir(sources, { recursive: true });
    await writeFile(join(sources, 'one.txt'), 'one line\n');
    const env = configEnv(loadConfig({ dataHome: join(home, 'data'), sources: { localRoots: [sources] } }));
    const jobs = join(home, 'jobs');
    const cli = new LocalProcessJobRunner({ root: jobs, command: DYFFCTL_COMMAND, env });
    const id = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    await cli.start({ name: `version-${id}-1`, entityId: id, stage: 'version', args: ['version'] });
    expect((await cli.wait(`version-${id}-1`)).phase).toBe('succeeded');
    const version = await readFile(join(jobs, `version-${id}-1`, 'output.log'), 'utf8');
    expect(version).toMatch(/^code: compiled JavaScript \(dist\/, built \d{4}-/m);
    expect(version).toMatch(/^steps: one-file bundle \(dist\/cli\/step\.cjs\), with its code cache$/m);

    // A worker running from dist/ starts its steps with bin/dyff-step.cjs; one running the sources (as this test
    // does) through bin/dyffctl.mjs. Either way a step runs from the bundle (dist/cli/step.cjs) with the code cache
    // the build made, and does its work; with DYFF_STEP_BUNDLE=0, from dist/'s modules, as every other command runs.
    const built = (await import(join(REPO, 'dist/adapters/index.js'))) as { stepCommand(): string[] };
    const fromDist = built.stepCommand();
    expect(fromDist).toEqual([process.execPath, join(REPO, 'bin/dyff-step.cjs'), 'step']);
    expect(stepCommand()).toEqual([...DYFFCTL_COMMAND, 'step']);
    const spec = JSON.stringify({ source: { kind: 'local', path: sources } });
    const step = async (name: string, extra: Record<string, string>, command = fromDist) => {
      const runner = new LocalProcessJobRunner({
        root: jobs,
        command,
        env: { ...env, DYFF_CODE_CACHE: 'report', ...extra },
      });
      await runner.start({
        name,
        entityId: id,
        stage: 'fetch-data',
        args: ['fetch-data', '--id', id, '--spec', spec],
      });
      const done = await runner.wait(name);
      expect(done.phase, done.logTail?.join('\n')).toBe('succeeded');
      const log = (await readFile(join(jobs, name, 'output.log'), 'utf8')).split('\n');
      expect(log).toContain(`fetch-data ${id}: done`);
      return log;
    };
    const bundled = await step(`fetch-data-${id}-1`, {});
    expect(bundled.slice(0, 2)).toEqual(['code cache: accepted', `fetch-data ${id}: start`]);
    const throughDyffctl = await step(`fetch-data-${id}-2`, {}, stepCommand());
    expect(throughDyffctl.slice(0, 2)).toEqual(['code cache: accepted', `fetch-data ${id}: start`]);
    for (const [i, command] of [fromDist, stepCommand()].entries()) {
      const modular = await step(`fetch-data-${id}-${i + 3}`, { DYFF_STEP_BUNDLE: '0' }, command);
      expect(modular[0]).toBe(`fetch-data ${id}: start`);
    }
  });

  it('a step that uses DuckDB, undici or Cloud Storage loads it from its vendored bundle, with its own code cache', async () => {
    // The real path: an ingest job from the step bundle, which reaches DuckDB's API only when it imports it.
    const sources = join(home, 'csv');
    await mkdir(sources, { recursive: true });
    await writeFile(join(sources, 'rows.csv'), 'a,b\n1,x\n2,y\n');
    const env = configEnv(loadConfig({ dataHome: join(home, 'data'), sources: { localRoots: [sources] } }));
    const jobs = join(home, 'vendored-jobs');
    const built = (await import(join(REPO, 'dist/adapters/index.js'))) as { stepCommand(): string[] };
    const runner = new LocalProcessJobRunner({
      root: jobs,
      command: built.stepCommand(),
      env: { ...env, DYFF_CODE_CACHE: 'report' },
    });
    const id = 'd0ffee00d0ffee00d0ffee00d0ffee00';
    const run = async (stage: string, spec: unknown) => {
      const name = `${stage}-${id}-1`;
      await runner.start({
        name,
        entityId: id,
        stage,
        args: [stage, '--id', id, '--spec', JSON.stringify(spec)],
      });
      const done = await runner.wait(name);
      expect(done.phase, done.logTail?.join('\n')).toBe('succeeded');
      return (await readFile(join(jobs, name, 'output.log'), 'utf8')).split('\n');
    };
    expect(await run('fetch-data', { source: { kind: 'local', path: sources } })).not.toContain(
      'code cache: accepted (vendor/duckdb-node-api.cjs)',
    );
    const ingest = await run('ingest-dataset', { ingest: { format: 'csv' } });
    expect(ingest[0]).toBe('code cache: accepted');
    expect(ingest).toContain('code cache: accepted (vendor/duckdb-node-api.cjs)');
    expect(ingest.some((l) => l.startsWith('ingested 2 rows into 1 shard(s)'))).toBe(true);

    // Each vendored file loads on its own as the package would, its cache accepted (the evaluate step, undici's user,
    // needs an inference endpoint, and a step on a bucket a storage emulator: their own tests run them).
    const load = async (file: string, member: string) => {
      const script = `const m = require(${JSON.stringify(join(REPO, 'bin/code-cache.cjs'))}).requireVendored(${JSON.stringify(join(REPO, 'dist/cli/vendor/node_modules', file))}); console.log(typeof m.${member});`;
      const { stdout, stderr } = await node(process.execPath, ['-e', script], {
        env: { PATH: process.env.PATH ?? '', DYFF_CODE_CACHE: 'report' },
      });
      return [stderr.trim(), stdout.trim()];
    };
    expect(await load('undici.cjs', 'Pool')).toEqual([
      'code cache: accepted (vendor/undici.cjs)',
      'function',
    ]);
    expect(await load('duckdb-node-api.cjs', 'DuckDBInstance')).toEqual([
      'code cache: accepted (vendor/duckdb-node-api.cjs)',
      'function',
    ]);
    expect(await load('google-cloud-storage.cjs', 'Storage')).toEqual([
      'code cache: accepted (vendor/google-cloud-storage.cjs)',
      'function',
    ]);
  });

  // The Cloud Storage client's HTTP stack requires the `punycode` module and calls `url.parse()`. Node warns of both
  // (DEP0040 from 21, DEP0169 from 24) unless the caller's file is inside a node_modules directory, as every package
  // was before it was vendored. Node 20 has neither warning (only behind --pending-deprecation, and there for
  // dependencies too), so this test runs on 22 and later; the last one checks the layout on any Node.
  const major = Number(process.versions.node.split('.')[0]);
  it.skipIf(major < 22)(
    'a step using the vendored Cloud Storage client prints no deprecation warning of its dependencies',
    async () => {
      const file = join(REPO, 'dist/cli/vendor/node_modules/google-cloud-storage.cjs');
      const cache = join(REPO, 'bin/code-cache.cjs');
      // A free port on loopback, which nothing listens on: the request fails at once, after its URL is parsed.
      const endpoint = `http://127.0.0.1:${await freePort()}`;
      const script = `
        const { Storage } = require(${JSON.stringify(cache)}).requireVendored(${JSON.stringify(file)});
        const options = { apiEndpoint: '${endpoint}', projectId: 'p', retryOptions: { autoRetry: false } };
        new Storage(options).bucket('b').file('f').download()
          .then(() => console.log('ok'), (e) => console.log(e.code ?? e.message));`;
      const { stdout, stderr } = await node(process.execPath, ['-e', script], {
        env: { PATH: process.env.PATH ?? '' },
      });
      expect(stdout.trim()).toBe('ECONNREFUSED');
      expect(stderr).not.toMatch(/DeprecationWarning/);
    },
  );

  it("dyffctl version tells whether this Node takes the step bundle's code cache", async () => {
    const version = async (env: Record<string, string>) =>
      (
        await node(process.execPath, [join(REPO, 'bin/dyffctl.mjs'), 'version'], {
          env: { PATH: process.env.PATH ?? '', ...env },
        })
      ).stdout;
    expect(await version({})).toMatch(
      /^steps: one-file bundle \(dist\/cli\/step\.cjs\), with its code cache$/m,
    );
    // V8 takes a cache only under the flags it was made with; a step started so compiles the bundle instead.
    expect(await version({ NODE_OPTIONS: '--max-semi-space-size=32' })).toMatch(
      /^steps: one-file bundle \(dist\/cli\/step\.cjs\), with a code cache this Node refuses .*`npm run build`/m,
    );
  });

  it('the vendored files lie inside a node_modules directory, where Node treats code as a dependency', async () => {
    const step = await readFile(join(REPO, 'dist/cli/step.cjs'), 'utf8');
    for (const file of ['duckdb-node-api.cjs', 'undici.cjs', 'google-cloud-storage.cjs']) {
      expect(step).toContain(`"vendor","node_modules","${file}"`);
      await expect(readFile(join(REPO, 'dist/cli/vendor/node_modules', file), 'utf8')).resolves.toBeTruthy();
    }
  });
});

/*
 * The launcher and the build script on a tree of their own (the real bin/, scripts/build.mjs and tsconfig files, a
 * one-file src/), so that the sources can be edited without touching the repository's. The program prints where it
 * was loaded from: dist/cli/main.js when compiled, src/cli/main.ts through tsx.
 */
describe('bin/dyffctl.mjs never runs a stale dist/', () => {
  let tree: string;
  const main = () => join(tree, 'src/cli/main.ts');
  const program = (word: string) => `console.log('${word} ' + new URL(import.meta.url).pathname);\n`;
  const launch = async () => (await node(process.execPath, [join(tree, 'bin/dyffctl.mjs')])).stdout.trim();
  const build = (...args: string[]) => node(process.execPath, [join(tree, 'scripts/build.mjs'), ...args]);

  beforeAll(async () => {
    tree = join(home, 'tree');
    await cp(join(REPO, 'bin'), join(tree, 'bin'), { recursive: true });
    await mkdir(join(tree, 'scripts'), { recursive: true });
    await cp(join(REPO, 'scripts/build.mjs'), join(tree, 'scripts/build.mjs'));
    for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json'])
      await cp(join(REPO, f), join(tree, f));
    await symlink(await realpath(join(REPO, 'node_modules')), join(tree, 'node_modules'));
    await mkdir(join(tree, 'src/cli'), { recursive: true });
    await writeFile(main(), program('one'));
  });

  it('runs the sources until built, dist/ once built, and the sources again after an edit', async () => {
    expect(await launch()).toBe(`one ${main()}`);
    await build();
    expect(await launch()).toBe(`one ${join(tree, 'dist/cli/main.js')}`);

    await writeFile(main(), program('two'));
    expect(await launch()).toBe(`two ${main()}`);
    await build('--if-stale');
    expect(await launch()).toBe(`two ${join(tree, 'dist/cli/main.js')}`);
  });

  it('a file added or deleted under src/ makes dist/ stale; --if-stale leaves a fresh dist/ alone', async () => {
    await build('--if-stale');
    const stamp = await readFile(join(tree, 'dist/.build-stamp.json'), 'utf8');
    await build('--if-stale');
    expect(await readFile(join(tree, 'dist/.build-stamp.json'), 'utf8')).toBe(stamp);

    const extra = join(tree, 'src/cli/extra.ts');
    await writeFile(extra, 'export const extra = 1;\n');
    expect(await launch()).toMatch(/src\/cli\/main\.ts$/);
    await build('--if-stale');
    expect(await launch()).toMatch(/dist\/cli\/main\.js$/);
    await rm(extra);
    expect(await launch()).toMatch(/src\/cli\/main\.ts$/);
  });

  it('bin/dyff-step.cjs hands over to bin/dyffctl.mjs where there is no step bundle', async () => {
    // This tree has no step programs, so its build makes no bundle: the launcher runs what dyffctl.mjs would.
    const viaStep = async () =>
      (await node(process.execPath, [join(tree, 'bin/dyff-step.cjs'), 'step'])).stdout.trim();
    await writeFile(main(), program('four'));
    await build('--if-stale');
    expect(await viaStep()).toBe(`four ${join(tree, 'dist/cli/main.js')}`);
    await writeFile(main(), program('five'));
    expect(await viaStep()).toBe(`five ${main()}`);
  });

  it('a build that fails leaves dist/ unstamped, so the sources run', async () => {
    await writeFile(main(), `${program('three')}const broken: number = 'not a number';\n`);
    await expect(build()).rejects.toThrow();
    expect(await launch()).toBe(`three ${main()}`);
  });
});
