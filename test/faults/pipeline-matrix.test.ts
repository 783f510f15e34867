import { afterAll, beforeAll, describe, it } from 'vitest';
import { FAULTS, FULL, inject } from './support/faults.js';
import type { Fault } from './support/faults.js';
import { Harness, SCENARIO_TIMEOUT_MS, recorded } from './support/harness.js';
import type { Step } from './support/pipeline.js';
import { PipelineSuite, STEPS } from './support/pipeline.js';

/*
 * The whole matrix (`npm run faults`): each fault kind during each job stage of a real pipeline (real steps, a
 * real model server). `npm test` runs one scenario per fault kind in dataset-fetch.test.ts instead.
 */
let h: Harness;
let suite: PipelineSuite;

beforeAll(async () => {
  if (!FULL) return;
  h = await Harness.create();
  await h.startWorker();
  suite = await PipelineSuite.create(h);
}, 180_000);
afterAll(async () => {
  await h?.close();
});

const SCENARIOS = FAULTS.flatMap((fault) => STEPS.map((step) => [fault, step] as const));

describe.runIf(FULL)('fault × stage on a whole pipeline', { timeout: SCENARIO_TIMEOUT_MS }, () => {
  it.each(SCENARIOS)(
    '%s during %s: Complete, outputs exactly once, nothing left running',
    async (fault, step) => {
      await recorded(fault, step, () => scenario(fault, step));
    },
  );
});

async function scenario(fault: Fault, step: Step): Promise<number> {
  const run = await suite.start();
  const faulted = await h.jobStarted(step, run.seen);
  const started = Date.now();
  const { newTry } = await inject(h, fault, faulted);
  await suite.finish(run, { job: faulted, newTry });
  return (Date.now() - started) / 1000;
}
