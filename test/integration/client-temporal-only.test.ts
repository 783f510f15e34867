import { afterAll, beforeAll, expect, it } from 'vitest';
import { DyffClient } from '../../src/client.js';
import type { Config } from '../../src/config.js';
import { newId } from '../../src/domain/ids.js';
import { parseManifest } from '../../src/domain/manifest.js';
import { stepEffects } from '../support/step-effects.js';
import { startScriptedWorker, useOrchestrationEnv } from '../support/orchestration.js';
import { until } from '../support/worker-process.js';

/*
 * A script on another machine: its client has the Temporal address and nothing else. The worker keeps its
 * entities in its own SQLite file; the client's data home is a path no store can be opened at. Create, get,
 * list, wait and cancel all work from the runs' search attributes and memos.
 */

const env = useOrchestrationEnv();
const account = `remote-${newId().slice(0, 8)}`;
let hang = false;
let stopWorker: () => Promise<void>;

const manifest = (name: string) =>
  parseManifest(`
kind: Dataset
account: ${account}
metadata: { name: ${name}, labels: { team: evals } }
spec:
  source: { kind: url, url: "https://example.invalid/d.csv" }
  ingest: { format: csv }
`);

/** The worker's configuration with a data home where nothing can be opened. */
const remote = (reads: 'store' | 'temporal'): Config => ({
  ...env.config,
  dataHome: '/dev/null/no-store-here',
  client: { reads },
});

beforeAll(async () => {
  ({ stop: stopWorker } = await startScriptedWorker(env, () =>
    hang ? { outcome: 'hang' } : { outcome: 'succeed', effect: stepEffects(env.objects) },
  ));
});
afterAll(async () => {
  await stopWorker?.();
});

it('create, get, list, wait and cancel with only Temporal: the client never opens an entity store', async () => {
  const client = await DyffClient.connect(remote('temporal'));
  try {
    const { id } = await client.create(manifest('remote-one'));
    const done = await client.wait(id);
    expect(done).toMatchObject({
      id,
      kind: 'Dataset',
      account,
      name: 'remote-one',
      status: 'Ready',
      labels: { team: 'evals' },
      workflowId: `dataset-${id}`,
    });
    expect((done.spec as { source: { url: string } }).source.url).toBe('https://example.invalid/d.csv');
    // The same record as the worker's store holds.
    const stored = (await env.entities.get(id))!;
    expect(done.message).toBe(stored.message);
    expect(done.details?.rowCount).toBe(stored.details?.rowCount);
    expect(Date.parse(done.lastTransitionTime)).toBeGreaterThanOrEqual(Date.parse(done.creationTime));

    const listed = await until('the Ready dataset in the list', async () => {
      const l = await client.list({ kind: 'Dataset', account, status: 'Ready' });
      return l.length > 0 && l;
    });
    expect(listed.map((e) => e.id)).toEqual([id]);
    expect(await client.list({ account, labels: { team: 'other' } })).toEqual([]);

    hang = true;
    const second = await client.create(manifest('remote-two'));
    const running = await until('the second dataset to run its fetch step', async () => {
      const v = await client.get(second.id);
      return v?.status === 'Admitted' && v.stage ? v : false;
    });
    expect(running.stage).toBe('fetch');
    await client.cancel(second.id);
    const cancelled = await client.wait(second.id);
    expect(cancelled.status).toBe('Terminated');
    expect(cancelled.reason).toBe('TerminateCommand');
    const both = await until('both datasets listed', async () => {
      const l = await client.list({ kind: 'Dataset', account });
      return l.length === 2 && l;
    });
    expect(both.map((e) => e.name).sort()).toEqual(['remote-one', 'remote-two']);
    expect(client.storeProblem).toBeUndefined();
    expect(await client.get('0'.repeat(32))).toBeUndefined();
  } finally {
    hang = false;
    await client.close();
  }
}, 120_000);

it('reading the store by default, a store that cannot be opened falls back to Temporal and says why', async () => {
  const client = await DyffClient.connect(remote('store'));
  try {
    const { id } = await client.create(manifest('fallback'));
    expect((await client.wait(id)).status).toBe('Ready');
    expect(client.storeProblem).toMatch(/directory does not exist|ENOTDIR|not a directory/i);
    const listed = await until('the dataset in the list', async () => {
      const l = await client.list({ kind: 'Dataset', account, status: 'Ready' });
      return l.some((e) => e.id === id) && l;
    });
    expect(listed.find((e) => e.id === id)?.name).toBe('fallback');
  } finally {
    await client.close();
  }
}, 120_000);
