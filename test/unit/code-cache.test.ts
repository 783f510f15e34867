import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LOADER = resolve(import.meta.dirname, '../../bin/code-cache.cjs');
const node = promisify(execFile);

/*
 * bin/code-cache.cjs on a bundle of its own, in fresh Node processes: a bundle runs as the main module would
 * (its require, __filename, __dirname, exports), the cache is written only when asked, read otherwise, and a cache
 * that does not fit is ignored by V8 rather than run.
 */
describe('bin/code-cache.cjs', () => {
  let dir: string;
  let bundle: string;
  const run = async (mode?: string, args: string[] = []) => {
    const { stdout, stderr } = await node(
      process.execPath,
      ['-e', `require(${JSON.stringify(LOADER)}).runWithCodeCache(${JSON.stringify(bundle)})`, ...args],
      { env: { PATH: process.env.PATH, ...(mode ? { DYFF_CODE_CACHE: mode } : {}) } },
    );
    return { stdout: stdout.trim(), stderr: stderr.trim() };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyff-code-cache-'));
    bundle = join(dir, 'bundle.cjs');
    await writeFile(join(dir, 'helper.cjs'), 'module.exports = (xs) => xs.map((x) => x * 2).join(",");\n');
    await writeFile(
      bundle,
      [
        "const double = require('./helper.cjs');",
        "const { basename } = require('node:path');",
        'function work(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }',
        'exports.answer = 42;',
        'console.log([basename(__filename), basename(__dirname) === basename(process.env.DIR ?? __dirname),',
        '  double([1, 2]), work(10), module.exports.answer, process.argv.slice(1).join(" ")].join(" "));',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the bundle as a module, and writes a cache only when told to', async () => {
    const expected = 'bundle.cjs true 2,4 45 42 a b';
    expect(await run(undefined, ['a', 'b'])).toEqual({ stdout: expected, stderr: '' });
    await expect(stat(`${bundle}.cache`)).rejects.toThrow(/ENOENT/);

    expect((await run('report', ['a', 'b'])).stderr).toBe('code cache: absent');
    expect((await run('write', ['a', 'b'])).stdout).toBe(expected);
    expect((await stat(`${bundle}.cache`)).size).toBeGreaterThan(0);
    expect(await run('report', ['a', 'b'])).toEqual({ stdout: expected, stderr: 'code cache: accepted' });
  });

  it('a cache that does not fit the bundle is ignored, and the bundle compiles and runs as usual', async () => {
    await run('write');
    const cache = await readFile(`${bundle}.cache`);
    // Cut short, as by an interrupted copy: its header no longer matches its length.
    await writeFile(`${bundle}.cache`, cache.subarray(0, cache.length >> 1));
    expect(await run('report', ['c'])).toEqual({
      stdout: 'bundle.cjs true 2,4 45 42 c',
      stderr: 'code cache: rejected',
    });
    // Another script's: V8 checks the source it was made from (by its length).
    await writeFile(`${bundle}.cache`, cache);
    await writeFile(bundle, `${await readFile(bundle, 'utf8')}\nconsole.log('a line more');\n`);
    const { stdout, stderr } = await run('report', ['d']);
    expect(stderr).toBe('code cache: rejected');
    expect(stdout).toBe('bundle.cjs true 2,4 45 42 d\na line more');
  });
});
