import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readStepLogs, tailOfStepLog } from '../../../src/activities/step-logs.js';
import { FilesystemObjectStore } from '../../../src/adapters/object-store/filesystem.js';
import { newId } from '../../../src/domain/ids.js';
import { legacyLogKey } from '../../../src/domain/log-layout.js';
import { createStepLog } from '../../../src/steps/context.js';

let root: string;
let store: FilesystemObjectStore;
let id: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dyff-log-reader-'));
  store = new FilesystemObjectStore({ root });
  id = newId();
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** One try of a step, logged through the real step log and closed, as a step process does on exit. */
async function runTry(step: string, attempt: number, lines: string[]): Promise<void> {
  const log = createStepLog({ objectStore: store, category: 'outputs', id, step, attempt, write: () => {} });
  for (const line of lines) log.info(line);
  log.progress({ done: 1, total: 1, unit: 'rows' });
  await log.close();
}

const withoutTimes = (text: string) => text.replace(/^\S+Z /gm, '');

describe('reading step logs back', () => {
  it('follows a running entity: a read from the cursor prints only new lines, a header when the try changes', async () => {
    await runTry('evaluate', 1, ['evaluate try 1']);
    const first = await readStepLogs(store, 'outputs', id);
    expect(withoutTimes(first.text)).toBe(
      '==> evaluate, try 1 <==\nevaluate try 1\n::progress::{"done":1,"total":1,"unit":"rows"}\n',
    );
    expect((await readStepLogs(store, 'outputs', id, { from: first.next })).text).toBe('');

    await runTry('evaluate', 2, ['evaluate try 2']);
    await runTry('verify-outputs', 1, ['verify']);
    const more = await readStepLogs(store, 'outputs', id, { from: first.next });
    expect(
      withoutTimes(more.text)
        .split('\n')
        .filter((l) => !l.startsWith('::progress::')),
    ).toEqual(['==> evaluate, try 2 <==', 'evaluate try 2', '==> verify-outputs, try 1 <==', 'verify', '']);
    // The whole log at once says the same as the two reads.
    expect((await readStepLogs(store, 'outputs', id)).text).toBe(first.text + more.text);
  });

  it('a step filter and a try filter select their chunks only', async () => {
    await runTry('evaluate', 1, ['e1']);
    await runTry('evaluate', 2, ['e2']);
    await runTry('verify-outputs', 1, ['v1']);
    const lines = async (opts: { step?: string; try?: number }) =>
      withoutTimes((await readStepLogs(store, 'outputs', id, opts)).text)
        .split('\n')
        .filter((l) => l && !l.startsWith('::progress::'));
    expect(await lines({ try: 1 })).toEqual([
      '==> evaluate, try 1 <==',
      'e1',
      '==> verify-outputs, try 1 <==',
      'v1',
    ]);
    expect(await lines({ step: 'evaluate' })).toEqual([
      '==> evaluate, try 1 <==',
      'e1',
      '==> evaluate, try 2 <==',
      'e2',
    ]);
    expect(await lines({ step: 'verify-outputs', try: 2 })).toEqual([]);
  });

  it("a failed try's tail: the last lines of that try, progress left out, across chunks", async () => {
    await runTry(
      'evaluate',
      1,
      Array.from({ length: 30 }, (_, i) => `one ${i}`),
    );
    await runTry('evaluate', 2, ['two: start', 'error: boom']);
    const tail = await tailOfStepLog(store, 'outputs', id, { step: 'evaluate', try: 1 }, 5);
    expect(tail.map((l) => withoutTimes(l))).toEqual(['one 25', 'one 26', 'one 27', 'one 28', 'one 29']);
    const second = await tailOfStepLog(store, 'outputs', id, { step: 'evaluate', try: 2 });
    expect(second.map((l) => withoutTimes(l))).toEqual(['two: start', 'error: boom']);
  });

  it('an entity from before chunked logs: its logs.txt is read, and is the tail when a try has no chunks', async () => {
    await store.put('outputs', legacyLogKey(id), 'T1 first\nT2 ::progress::{}\nT3 error: old\n');
    const read = await readStepLogs(store, 'outputs', id);
    expect(read.text).toBe('T1 first\nT2 ::progress::{}\nT3 error: old\n');
    expect((await readStepLogs(store, 'outputs', id, { from: read.next })).text).toBe('');
    expect(await tailOfStepLog(store, 'outputs', id, { step: 'evaluate', try: 1 })).toEqual([
      'T1 first',
      'T3 error: old',
    ]);
  });
});
