import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseManifest } from '../../src/domain/manifest.js';
import { until } from '../support/worker-process.js';
import { Harness } from './support/harness.js';
import { slowCsv } from './support/slow-csv.js';

/*
 * A spec's own step deadline (`deadlineSeconds`, overriding the worker's limits.stepDeadlineSeconds) reaches the
 * step's process: a fetch that would take a minute is stopped after 2 s, each try ends with the outcome
 * `deadline`, and after the last try the Dataset ends Error/FetchFailed with a reason that names the deadline.
 */
let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
  await h.startWorker();
}, 120_000);
afterAll(async () => {
  await h?.close();
});

it(
  'a spec deadline of 2 s ends each fetch try as deadline-exceeded, then the Dataset Error with the reason',
  {
    timeout: 240_000,
  },
  async () => {
    const csv = await slowCsv(20_000, 60_000);
    try {
      const { id } = await h.client.create(
        parseManifest(
          `kind: Dataset\naccount: faults\nspec:\n  source: { kind: url, url: "${csv.url}" }\n  deadlineSeconds: 2\n`,
        ),
      );
      const view = await h.client.wait(id);
      expect(view.status, view.message).toBe('Error');
      expect(view.reason, view.message).toBe('FetchFailed');
      expect(view.message).toContain('deadline exceeded: ran longer than activeDeadlineSeconds=2');
      // Each try is a job of its own, stopped at its deadline; the worker's default (6 h) was not used.
      const tries = h.config.retries.maxTriesPerStage;
      expect(view.details?.retries).toEqual(
        Array.from({ length: tries - 1 }, (_, i) =>
          expect.objectContaining({ stage: 'fetch', try: i + 1, outcome: 'deadline' }),
        ),
      );
      const fetches = (await h.jobs()).filter((j) => j.entityId === id);
      expect(fetches.map((j) => j.step)).toEqual(Array(tries).fill('fetch-data'));
      // The stopped process's exit code is recorded once its group is gone.
      await until('every fetch try to have an exit code', async () =>
        (await h.jobs()).filter((j) => j.entityId === id).every((j) => j.exit !== undefined && j.exit !== 0),
      );
      expect(await h.leftRunning()).toEqual([]);
    } finally {
      await csv.close();
    }
  },
);
