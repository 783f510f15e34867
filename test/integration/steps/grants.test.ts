import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv, newId } from './helpers/step-env.js';

/**
 * A real step (fetch-data from a local folder) run with grant enforcement on: it completes under its grants, fails
 * on a withheld one, and fails too when the refused call was one it caught and went on from (its log writer never
 * fails a step on a store error).
 */

let env: StepEnv;
let source: string;
beforeEach(async () => {
  env = await createStepEnv();
  source = join(env.root, 'source');
  await mkdir(source, { recursive: true });
  await writeFile(join(source, 'one.txt'), 'one\n');
});
afterEach(() => env.cleanup());

const fetchWith = (withholdGrants: string[]) => {
  env.config.storage = { enforceGrants: true, withholdGrants };
  const id = newId();
  return env.run('fetch-data', id, { source: { kind: 'local', path: source } }).then((run) => ({ id, run }));
};

it('completes under its own grants, the log included', async () => {
  const { id, run } = await fetchWith([]);
  expect(run.code, run.last).toBe(0);
  expect((await env.store.getBuffer('rawdata', `${id}/files/one.txt`)).toString()).toBe('one\n');
  expect(await env.storedLog(id)).toContain('done');
});

it('fails on a withheld grant, naming identity, access, category and key', async () => {
  const { id, run } = await fetchWith(['fetch-data:rawdata:<id>/']);
  expect(run.code).not.toBe(0);
  expect(run.last).toMatch(
    new RegExp(`^error: data-fetcher may not \\w+ rawdata/${id}/\\S* \\(\\w+\\): no grant covers it`),
  );
  expect(await env.store.stat('rawdata', `${id}/files/one.txt`)).toBeUndefined();
});

it('fails when the refused call was caught: a log the step may not write', async () => {
  const { id, run } = await fetchWith(['fetch-data:datasets:<id>/.dyff/logs/']);
  // The work itself was allowed and done; the step still fails on the refusal.
  expect((await env.store.getBuffer('rawdata', `${id}/files/one.txt`)).toString()).toBe('one\n');
  expect(run.code).not.toBe(0);
  expect(run.last).toMatch(
    new RegExp(`^error: data-fetcher may not create datasets/${id}/\\.dyff/logs/fetch-data/000/\\d+\\.txt`),
  );
});
