import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { SqliteEntityStore } from '../../src/adapters/entity-store/sqlite.js';
import { newId } from '../../src/domain/ids.js';
import { entityStoreContract } from './entity-store.case.js';

const tempFile = async () =>
  path.join(await mkdtemp(path.join(tmpdir(), 'dyff-entities-')), 'nested', 'state.db');
const removeTemp = (file: string) => rm(path.dirname(path.dirname(file)), { recursive: true, force: true });

entityStoreContract('SqliteEntityStore (file, two connections)', async () => {
  const file = await tempFile();
  const store = new SqliteEntityStore({ path: file });
  const second = new SqliteEntityStore({ path: file });
  return {
    store,
    second,
    cleanup: async () => {
      await Promise.all([store.close(), second.close()]);
      await removeTemp(file);
    },
  };
});

entityStoreContract('SqliteEntityStore (:memory:)', async () => {
  const store = new SqliteEntityStore({ path: ':memory:' });
  return { store, cleanup: () => store.close() };
});

it('SqliteEntityStore keeps entities across a reopen of its file', async () => {
  const file = await tempFile();
  const id = newId();
  const first = new SqliteEntityStore({ path: file });
  const created = await first.create({ id, kind: 'Model', account: 'a', spec: { x: 1 } });
  await first.close();
  const reopened = new SqliteEntityStore({ path: file });
  expect(await reopened.get(id)).toEqual(created);
  await reopened.close();
  await removeTemp(file);
});

// better-sqlite3 is synchronous, so connections in one process never overlap; only processes really race.
const RACER = `
import { SqliteEntityStore } from ${JSON.stringify(fileURLToPath(new URL('../../src/adapters/entity-store/sqlite.ts', import.meta.url)))};
const [file, to, ...ids] = process.argv.slice(1);
const store = new SqliteEntityStore({ path: file });
console.log('ready');
process.stdin.once('data', async () => {
  const outcomes = [];
  for (const id of ids) {
    try {
      outcomes.push((await store.transition({ id, allowedFrom: ['Admitted'], to })).changed ? 'won' : 'noop');
    } catch (err) {
      outcomes.push(err.type ?? err.code ?? String(err));
    }
  }
  console.log(JSON.stringify(outcomes));
  await store.close();
  process.stdin.destroy();
});
`;

it('SqliteEntityStore: two processes racing on the same entities never fail a transition', async () => {
  const file = await tempFile();
  const store = new SqliteEntityStore({ path: file });
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) {
    const { id } = await store.create({ id: newId(), kind: 'Dataset', account: 'race', spec: {} });
    await store.transition({ id, allowedFrom: ['Created'], to: 'Admitted' });
    ids.push(id);
  }
  const racers = (['Ready', 'Ready'] as const).map((to) => {
    const child = spawn(process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      RACER,
      file,
      to,
      ...ids,
    ]);
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    return { child, next: async () => (await lines.next()).value as string };
  });
  try {
    expect(await Promise.all(racers.map((r) => r.next()))).toEqual(['ready', 'ready']);
    for (const { child } of racers) child.stdin.write('go\n');
    const [a, b] = (await Promise.all(racers.map((r) => r.next()))).map(
      (line) => JSON.parse(line) as string[],
    );
    const pairs = ids.map((_, i) => [a?.[i], b?.[i]].sort().join('|'));
    expect(new Set(pairs)).toEqual(new Set(['noop|won']));
    expect(await store.list({ account: 'race', status: 'Ready', limit: 1000 })).toHaveLength(ids.length);
  } finally {
    for (const { child } of racers) if (child.exitCode === null) child.kill();
    await store.close();
    await removeTemp(file);
  }
});
