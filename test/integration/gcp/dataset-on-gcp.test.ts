import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DyffClient } from '../../../src/client.js';
import type { Config } from '../../../src/config.js';
import { parsePipelineManifest, validateManifest } from '../../../src/domain/manifest.js';
import type { Emulator } from '../../support/gcp-emulators.js';
import { createTestBuckets, startDatastoreEmulator, startFakeGcs } from '../../support/gcp-emulators.js';
import type { RunningWorker } from '../../support/temporal.js';
import { startWorker, testConfig } from '../../support/temporal.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';
import { Pipelines } from '../../../src/client-pipelines.js';

let config: Config;
let cleanup: () => Promise<void>;
let gcs: Emulator;
let datastore: Emulator & { projectId: string };
let worker: RunningWorker;
let client: DyffClient;

beforeAll(async () => {
  [gcs, datastore] = await Promise.all([startFakeGcs(), startDatastoreEmulator()]);
  const base = await testConfig();
  cleanup = base.cleanup;
  const buckets = await createTestBuckets(
    gcs.endpoint,
    'dyfftest',
    join(base.config.dataHome, 'dyff.config.yaml'),
  );
  config = {
    ...base.config,
    objectStore: 'gcs',
    entityStore: 'datastore',
    gcs: { ...base.config.gcs, apiEndpoint: gcs.endpoint, buckets },
    datastore: { projectId: datastore.projectId, apiEndpoint: datastore.endpoint },
    // Every step, the session and the worker held to their grants, as GCS IAM would hold them.
    storage: { enforceGrants: true, withholdGrants: [] },
  };
  worker = await startWorker(config);
  client = await DyffClient.connect(config, worker.adapters);
}, 180_000);

afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await Promise.all([gcs?.stop(), datastore?.stop()]);
  await cleanup?.();
});

it('a Dataset becomes Ready with objectStore gcs and entityStore datastore, and its steps wrote to the buckets', async () => {
  const csv = join(config.dataHome, 'animals.csv');
  await writeFile(csv, 'name,legs\nant,6\nbird,2\ncat,4\ndog,4\n');
  const manifest = validateManifest({
    kind: 'Dataset',
    account: 'gcp',
    spec: { source: { kind: 'local', path: csv }, ingest: { format: 'csv' } },
  });
  const { id } = await client.create(manifest);
  const view = await client.wait(id, { intervalMs: 250 });
  expect(view.status, view.message).toBe('Ready');
  expect(view.details).toMatchObject({ rowCount: 4 });
  expect(String(view.details?.location)).toMatch(/^gs:\/\/dyfftest-datasets-[0-9a-f]{16}\//);
  const shards = await worker.adapters.objectStore.list('datasets', `${id}/data/`);
  expect(shards.length).toBeGreaterThan(0);
  expect((await worker.adapters.objectStore.list('rawdata', `${id}/files/`)).map((o) => o.key)).toEqual([
    `${id}/files/animals.csv`,
  ]);
  expect((await client.logs(id)).text).toContain('animals.csv');
  expect((await client.list({ kind: 'Dataset', account: 'gcp' })).map((e) => e.id)).toEqual([id]);
});

it(
  'the whole pipeline completes on GCS and Datastore with grants enforced: model, service, evaluation, report',
  { timeout: 240_000 },
  async () => {
    const corpus = await tinyCorpus(join(config.dataHome, 'tiny'));
    const manifest = parsePipelineManifest(`
kind: Pipeline
account: gcp
metadata: { name: tiny-on-gcp }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone } }
  evaluation: { replications: 2 }
  report: { rubric: classification.accuracy }
`);
    const pipelines = new Pipelines(client.temporal, config.temporal.taskQueue);
    const { id } = await pipelines.start(manifest);
    const view = await pipelines.wait(id);
    expect(view.status, JSON.stringify(view)).toBe('Complete');
    const report = await client.get(view.stages.report.id!);
    expect(report?.status).toBe('Complete');
    expect((report?.details?.metrics as { accuracy: number }).accuracy).toBe(1);
    const verified = await worker.adapters.objectStore.list(
      'outputs',
      `${view.stages.evaluation.id}/verified/`,
    );
    expect(verified.map((o) => o.key.split('/').at(-1))).toContain('summary.json');
    expect(
      await worker.adapters.objectStore.stat('reports', `${view.stages.report.id}/index.html`),
    ).toBeDefined();
  },
);

it('on GCS too, a withheld grant fails the step that needs it: ingest may not write its shards', async () => {
  const csv = join(config.dataHome, 'plants.csv');
  await writeFile(csv, 'name,leaves\nfern,many\n');
  const narrowed: Config = {
    ...config,
    temporal: { ...config.temporal, taskQueue: `${config.temporal.taskQueue}-withheld` },
    storage: { enforceGrants: true, withholdGrants: ['ingest-dataset:datasets:<id>/'] },
  };
  const narrowWorker = await startWorker(narrowed);
  const narrowClient = await DyffClient.connect(narrowed, narrowWorker.adapters);
  try {
    const { id } = await narrowClient.create(
      validateManifest({
        kind: 'Dataset',
        account: 'gcp-withheld',
        spec: { source: { kind: 'local', path: csv }, ingest: { format: 'csv' } },
      }),
    );
    const view = await narrowClient.wait(id, { intervalMs: 250 });
    expect(view.status).toBe('Error');
    expect(view.message).toMatch(
      new RegExp(`dataset-ingester may not \\w+ datasets/${id}/\\S* \\(\\w+\\): no grant covers it`),
    );
    expect(await worker.adapters.objectStore.list('datasets', `${id}/data/`)).toEqual([]);
  } finally {
    await narrowClient.close();
    await narrowWorker.stop();
  }
});
