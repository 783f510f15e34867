import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipelines } from '../../src/client-pipelines.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';
import { whileUnreachable } from '../../src/temporal-outage.js';
import { query } from '../support/duckdb.js';
import { tinyCorpus } from '../support/tiny-corpus.js';
import { until } from '../support/worker-process.js';
import { FAULTS, FULL, inject } from './support/faults.js';
import type { Fault } from './support/faults.js';
import { Harness, record } from './support/harness.js';

/*
 * The whole matrix (`npm run faults`): each fault kind during each job stage of a real pipeline (real steps, a
 * real model server). `npm test` runs one scenario per fault kind in dataset-fetch.test.ts instead.
 */
const STEPS = [
  'fetch-data',
  'ingest-dataset',
  'fetch-model',
  'build-service',
  'evaluate',
  'verify-outputs',
  'report',
] as const;
const REPLICATIONS = 2;

let h: Harness;
let pipelines: Pipelines;
let corpus: Awaited<ReturnType<typeof tinyCorpus>>;

beforeAll(async () => {
  if (!FULL) return;
  h = await Harness.create();
  await h.startWorker();
  pipelines = new Pipelines(h.client.temporal, h.config.temporal.taskQueue);
  corpus = await tinyCorpus(h.config.dataHome, 40);
}, 180_000);
afterAll(async () => {
  await h?.close();
});

const manifest = () =>
  parsePipelineManifest(`
kind: Pipeline
account: faults
metadata: { name: matrix }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone } }
  evaluation: { replications: ${REPLICATIONS}, workersPerReplica: 2 }
  report: { rubric: classification.accuracy }
`);

const SCENARIOS = FAULTS.flatMap((fault) => STEPS.map((step) => [fault, step] as const));

const SCENARIO_TIMEOUT_MS = 600_000;

describe.runIf(FULL)('fault × stage on a whole pipeline', { timeout: SCENARIO_TIMEOUT_MS }, () => {
  it.each(SCENARIOS)(
    '%s during %s: Complete, outputs exactly once, nothing left running',
    async (fault, step) => {
      const stage = step;
      try {
        const recoverSeconds = await scenario(fault, step);
        // vitest has already failed a scenario that outlived its timeout, even if the run completed later.
        const late = recoverSeconds * 1000 > SCENARIO_TIMEOUT_MS - 30_000;
        const outcome = late ? 'failed' : 'passed';
        await record({ fault, stage, outcome, recoverSeconds, note: late ? 'timed out' : undefined });
      } catch (err) {
        await record({ fault, stage, outcome: 'failed', note: String(err).slice(0, 300) });
        throw err;
      }
    },
  );
});

async function scenario(fault: Fault, step: (typeof STEPS)[number]): Promise<number> {
  const seen = new Set((await h.jobs()).map((j) => j.name));
  const { id } = await pipelines.start(manifest(), { force: true });
  const faulted = await h.jobStarted(step, seen);
  const started = Date.now();
  const { newTry } = await inject(h, fault, faulted);
  const view = await whileUnreachable(() => pipelines.wait(id), {
    address: h.config.temporal.address,
    timeoutMs: 120_000,
  });
  const recoverSeconds = (Date.now() - started) / 1000;
  expect(view.status, JSON.stringify(view)).toBe('Complete');

  const jobs = (await h.jobs()).filter((j) => !seen.has(j.name));
  // Exactly one job ran to completion per (entity, step); a killed step shows as a failed try before it.
  const completed = jobs.filter((j) => j.exit === 0).map((j) => `${j.entityId}/${j.step}`);
  expect(completed.length).toBe(new Set(completed).size);
  expect(new Set(jobs.map((j) => j.step))).toEqual(new Set(STEPS));
  const retry = faulted.replace(/-1$/, '-2');
  const byName = new Map(jobs.map((j) => [j.name, j.exit]));
  if (newTry) {
    expect(byName.get(faulted)).toBe(137);
    expect(byName.get(retry)).toBe(0);
  } else {
    expect(byName.get(faulted)).toBe(0);
    expect(byName.has(retry)).toBe(false);
  }
  // The verify step's count: every (_index_, _replication_) exactly once.
  const evaluationId = view.stages.evaluation.id!;
  const [pairs] = await query(
    `SELECT count(*)::INT AS n, count(DISTINCT (_index_, _replication_))::INT AS pairs
     FROM read_parquet('${join(h.config.dataHome, 'objects', 'outputs', evaluationId, 'verified', '*.parquet')}')`,
  );
  expect(pairs).toEqual({ n: corpus.rows * REPLICATIONS, pairs: corpus.rows * REPLICATIONS });
  expect((await h.client.get(view.stages.report.id!))?.status).toBe('Complete');
  await until('nothing of the run left running', async () => (await h.leftRunning()).length === 0, 20_000);
  return recoverSeconds;
}
