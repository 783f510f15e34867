import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readStepLogs } from '../../../src/activities/step-logs.js';
import { FilesystemObjectStore } from '../../../src/adapters/object-store/filesystem.js';
import { newId } from '../../../src/domain/ids.js';
import { logPrefix } from '../../../src/domain/log-layout.js';
import { until } from '../../support/worker-process.js';

const CHATTY = resolve(import.meta.dirname, '../../support/chatty-step-log.mjs');
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dyff-log-crash-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

it('a step killed mid-run (SIGKILL) keeps every line of its written chunks, in order, with no gap', async () => {
  const id = newId();
  const store = new FilesystemObjectStore({ root });
  const child = spawn(process.execPath, [CHATTY, root, id], { stdio: ['ignore', 'pipe', 'inherit'] });
  const printed: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => printed.push(line));
  const exited = once(child, 'exit');
  try {
    // Three chunks: the first line's, and two written by the timer while lines kept coming.
    await until('three log chunks in the store', async () => {
      const chunks = await store.list('datasets', logPrefix(id));
      return chunks.length >= 3;
    });
  } finally {
    child.kill('SIGKILL');
  }
  await exited;

  const stored = (await readStepLogs(store, 'datasets', id)).text
    .split('\n')
    .filter((l) => l && !l.startsWith('==> '))
    .map((l) => l.replace(/^\S+Z /, ''));
  expect(stored.length).toBeGreaterThan(0);
  // What reached the store is exactly the beginning of what was printed: nothing reordered, nothing skipped;
  // what was lost is only the tail that had not been written yet.
  expect(stored).toEqual(printed.slice(0, stored.length));
  expect(stored).toEqual(stored.map((_, i) => `line ${i}`));
}, 120_000);
