import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DyffClient } from '../../src/client.js';
import { Pipelines } from '../../src/client-pipelines.js';
import type { Config } from '../../src/config.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';
import type { RunningWorker } from '../support/temporal.js';
import { startWorker, testConfig } from '../support/temporal.js';
import { tinyCorpus } from '../support/tiny-corpus.js';

/**
 * The whole pipeline on the filesystem, real steps and a real model server, with every object-store call of the
 * steps, the session and the worker held to the step catalogue's grants. Then the same pipeline with one grant
 * withheld (evaluate's access to its outputs): the evaluation must fail on it, naming identity, category and key.
 */

let base: Config;
let cleanup: () => Promise<void>;
let corpus: Awaited<ReturnType<typeof tinyCorpus>>;

beforeAll(async () => {
  ({ config: base, cleanup } = await testConfig());
  base = { ...base, storage: { enforceGrants: true, withholdGrants: [] } };
  corpus = await tinyCorpus(join(base.dataHome, 'tiny'));
});
afterAll(async () => cleanup?.());

const manifest = (name: string) =>
  parsePipelineManifest(`
kind: Pipeline
account: grants
metadata: { name: ${name} }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone } }
  evaluation: { replications: 2 }
  report: { rubric: classification.accuracy }
`);

/** One worker at a time on the data home (one SQLite writer), each on a task queue of its own. */
async function withWorker<T>(config: Config, run: (w: RunningWorker, c: DyffClient) => Promise<T>) {
  const worker = await startWorker(config);
  const client = await DyffClient.connect(config, worker.adapters);
  try {
    return await run(worker, client);
  } finally {
    await client.close();
    await worker.stop();
  }
}

it('the whole pipeline completes on the filesystem with every grant enforced', { timeout: 240_000 }, () =>
  withWorker(base, async (worker, client) => {
    const pipelines = new Pipelines(client.temporal, base.temporal.taskQueue);
    const view = await pipelines.wait((await pipelines.start(manifest('enforced'))).id);
    expect(view.status, JSON.stringify(view)).toBe('Complete');
    const report = await client.get(view.stages.report.id!);
    expect((report?.details?.metrics as { accuracy: number }).accuracy).toBe(1);
    // Steps logged under their grant (a create-only one): the logs are there to read.
    expect((await client.logs(view.stages.evaluation.id!)).text).toContain('evaluate');
    expect(
      await worker.adapters.objectStore.stat('reports', `${view.stages.report.id}/index.html`),
    ).toBeDefined();
  }),
);

it(
  "withholding evaluate's grant on outputs fails the evaluation, naming identity, category and key",
  { timeout: 240_000 },
  async () => {
    const config: Config = {
      ...base,
      temporal: { ...base.temporal, taskQueue: `${base.temporal.taskQueue}-withheld` },
      storage: { enforceGrants: true, withholdGrants: ['evaluate:outputs:<id>/'] },
    };
    await withWorker(config, async (_worker, client) => {
      const pipelines = new Pipelines(client.temporal, config.temporal.taskQueue);
      const view = await pipelines.wait((await pipelines.start(manifest('withheld'))).id);
      expect(view.status, JSON.stringify(view)).toBe('Failed');
      // The stages before it still ran under their own grants.
      expect((await client.get(view.stages.inferenceService.id!))?.status).toBe('Ready');
      const evaluationId = view.stages.evaluation.id!;
      const evaluation = await client.get(evaluationId);
      expect(evaluation?.status).toBe('Failed');
      expect(evaluation?.message).toMatch(
        new RegExp(
          `evaluation-client may not (read|create|overwrite) outputs/${evaluationId}/\\S* \\(\\w+\\): no grant covers it`,
        ),
      );
      expect(view.stages.report.status).not.toBe('Complete');
    });
  },
);
