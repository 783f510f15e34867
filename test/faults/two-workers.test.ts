import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/domain/manifest.js';
import { FULL, ONE_OF_TWO_WORKERS, inject } from './support/faults.js';
import { Harness, SCENARIO_TIMEOUT_MS, recorded } from './support/harness.js';
import type { Step } from './support/pipeline.js';
import { PipelineSuite, STEPS } from './support/pipeline.js';
import { slowCsv } from './support/slow-csv.js';

/*
 * Two workers poll one task queue, as in a deployment with replicas; the one running the step's activity is
 * SIGKILLed mid-run and no worker is started in its place. The survivor must notice (heartbeat timeout), adopt
 * the running job and carry the workflows to the end. `npm test` runs it on a Dataset fetch (a slow loopback
 * source); `npm run faults` at every job stage of a whole pipeline.
 */
let h: Harness;
let suite: PipelineSuite | undefined;
beforeAll(async () => {
  h = await Harness.create();
  await h.startWorker();
  await h.startWorker();
  if (FULL) suite = await PipelineSuite.create(h);
}, 180_000);
afterAll(async () => {
  await h?.close();
});

describe('two workers on one task queue, one of them SIGKILLed', { timeout: SCENARIO_TIMEOUT_MS }, () => {
  it.runIf(!FULL)('during a Dataset fetch: Ready, one fetch job, read once', async () => {
    await recorded(ONE_OF_TWO_WORKERS, 'fetch (Dataset)', async () => {
      const csv = await slowCsv(60_000, 8_000);
      try {
        const { id } = await h.client.create(
          parseManifest(
            `kind: Dataset\naccount: faults\nspec:\n  source: { kind: url, url: "${csv.url}" }\n  ingest: { format: csv }\n`,
          ),
        );
        const fetchJob = await h.jobStarted('fetch-data', new Set());
        const started = Date.now();
        await inject(h, ONE_OF_TWO_WORKERS, fetchJob);
        expect(h.workers.filter((w) => w.exitCode === null && w.signalCode === null)).toHaveLength(1);
        const view = await h.client.wait(id);
        expect(view.status, view.message).toBe('Ready');
        expect(view.details).toMatchObject({ rowCount: 60_000 });
        const jobs = (await h.jobs()).filter((j) => j.entityId === id);
        // One job per stage, each the first try, each completed: the running fetch was adopted, not restarted.
        expect(jobs.map((j) => [j.step, j.name.endsWith('-1'), j.exit])).toEqual([
          ['fetch-data', true, 0],
          ['ingest-dataset', true, 0],
        ]);
        expect(jobs[0]?.name).toBe(fetchJob);
        expect(csv.stats.requests).toBe(1);
        expect(await h.leftRunning()).toEqual([]);
        return (Date.now() - started) / 1000;
      } finally {
        await csv.close();
      }
    });
  });

  it.runIf(FULL).each(STEPS)(
    `${ONE_OF_TWO_WORKERS} during %s: Complete, outputs exactly once, nothing left running`,
    async (step: Step) => {
      await recorded(ONE_OF_TWO_WORKERS, step, async () => {
        // Each scenario kills one worker: start a second one again, before the run, not after the fault.
        while (h.workers.filter((w) => w.exitCode === null && w.signalCode === null).length < 2)
          await h.startWorker();
        const run = await suite!.start();
        const faulted = await h.jobStarted(step, run.seen);
        const started = Date.now();
        await inject(h, ONE_OF_TWO_WORKERS, faulted);
        await suite!.finish(run, { job: faulted, newTry: false });
        return (Date.now() - started) / 1000;
      });
    },
  );
});
