import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/domain/manifest.js';
import type { Emulator } from '../support/gcp-emulators.js';
import {
  createTestBuckets,
  skipGcp,
  startDatastoreEmulator,
  startFakeGcs,
} from '../support/gcp-emulators.js';
import { FULL } from './support/faults.js';
import { Harness, SCENARIO_TIMEOUT_MS, recorded } from './support/harness.js';
import type { Step } from './support/pipeline.js';
import { PipelineSuite, STEPS } from './support/pipeline.js';
import { slowCsv } from './support/slow-csv.js';

/*
 * Storage that restarts under a running step: with `entityStore: datastore` and `objectStore: gcs`, the Datastore
 * emulator and fake-gcs-server are stopped and started again on the same ports while a step writes. Each keeps its
 * data on disk across the restart, as the real services do (fake-gcs-server on its filesystem backend, the
 * emulator in its project directory); what a restart loses is connections and requests in flight. `npm test` restarts
 * them during a Dataset fetch; `npm run faults` during every job stage of a whole pipeline.
 */
const FAULT = 'storage-restart';

let place: string;
let gcs: Emulator;
let datastore: Emulator & { projectId: string };
let h: Harness;
let suite: PipelineSuite | undefined;

const gcsPlace = () => ({ port: Number(new URL(gcs.endpoint).port), root: join(place, 'gcs') });
const datastorePlace = () => ({
  port: Number(datastore.endpoint.split(':')[1]),
  projectDir: join(place, 'datastore'),
});

beforeAll(async () => {
  if (skipGcp) return;
  place = await mkdtemp(join(tmpdir(), 'dyff-faults-storage-'));
  [gcs, datastore] = await Promise.all([
    startFakeGcs({ root: join(place, 'gcs') }),
    startDatastoreEmulator({ projectDir: join(place, 'datastore') }),
  ]);
  const buckets = await createTestBuckets(gcs.endpoint, 'dyfffaults', join(place, 'buckets.yaml'));
  h = await Harness.create({
    objectStore: 'gcs',
    entityStore: 'datastore',
    gcs: { apiEndpoint: gcs.endpoint, buckets },
    datastore: { projectId: datastore.projectId, apiEndpoint: datastore.endpoint },
  });
  await h.startWorker();
  if (FULL) suite = await PipelineSuite.create(h);
}, 240_000);
afterAll(async () => {
  await h?.close();
  await Promise.all([gcs?.stop(), datastore?.stop()]);
  if (place) await rm(place, { recursive: true, force: true });
});

/** Stop both and start them again where they were: the same ports, the same data. */
async function restartStorage(): Promise<void> {
  const [g, d] = [gcsPlace(), datastorePlace()];
  await Promise.all([gcs.stop(), datastore.stop()]);
  [gcs, datastore] = await Promise.all([startFakeGcs(g), startDatastoreEmulator(d, datastore.projectId)]);
}

describe.skipIf(skipGcp)(
  'Datastore emulator and fake-gcs-server restarted while a step writes',
  {
    timeout: SCENARIO_TIMEOUT_MS,
  },
  () => {
    it.runIf(!FULL)('during a Dataset fetch: Ready with every row, one completed fetch job', async () => {
      await recorded(FAULT, 'fetch (Dataset)', async () => {
        const csv = await slowCsv(60_000, 15_000);
        try {
          const { id } = await h.client.create(
            parseManifest(
              `kind: Dataset\naccount: faults\nspec:\n  source: { kind: url, url: "${csv.url}" }\n  ingest: { format: csv }\n`,
            ),
          );
          const fetchJob = await h.jobStarted('fetch-data', new Set());
          const started = Date.now();
          await restartStorage();
          const view = await h.client.wait(id);
          expect(view.status, view.message).toBe('Ready');
          expect(view.details).toMatchObject({ rowCount: 60_000 });
          const jobs = (await h.jobs()).filter((j) => j.entityId === id);
          const completed = jobs.filter((j) => j.exit === 0).map((j) => j.step);
          expect(completed).toEqual(['fetch-data', 'ingest-dataset']);
          expect(jobs[0]?.name).toBe(fetchJob);
          expect(await h.leftRunning()).toEqual([]);
          return (Date.now() - started) / 1000;
        } finally {
          await csv.close();
        }
      });
    });

    it.runIf(FULL).each(STEPS)(
      `${FAULT} during %s: Complete, outputs exactly once, nothing left running`,
      async (step: Step) => {
        await recorded(FAULT, step, async () => {
          const run = await suite!.start();
          const faulted = await h.jobStarted(step, run.seen);
          const started = Date.now();
          await restartStorage();
          await suite!.finish(run, { job: faulted });
          return (Date.now() - started) / 1000;
        });
      },
    );
  },
);
