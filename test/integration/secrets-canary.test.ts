import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '../../src/adapters/index.js';
import { createAdapters } from '../../src/adapters/index.js';
import { DyffClient } from '../../src/client.js';
import { Pipelines } from '../../src/client-pipelines.js';
import type { Config } from '../../src/config.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';
import { filesContaining, historiesContaining } from '../support/canary.js';
import { testConfig } from '../support/temporal.js';
import { tinyCorpus } from '../support/tiny-corpus.js';
import { run, spawnWorker } from '../support/worker-process.js';

/**
 * Acceptance: a secret named by a spec and the worker's HF_TOKEN are used, yet appear in no object, job
 * directory, session directory, entity row, workflow history, worker log or report.
 */
const SECRET_CANARY = `canary-secret-${randomBytes(12).toString('hex')}`;
const HF_CANARY = `hf_canary${randomBytes(12).toString('hex')}`;
const SECRET_FILES = (rel: string) => rel === 'secrets' || rel === 'secrets.yaml';

let config: Config;
let cleanup: () => Promise<void>;
let adapters: Adapters;
let client: DyffClient;
let pipelines: Pipelines;
let corpus: Awaited<ReturnType<typeof tinyCorpus>>;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  adapters = await createAdapters(config);
  client = await DyffClient.connect(config, adapters);
  pipelines = new Pipelines(client.temporal, config.temporal.taskQueue);
  corpus = await tinyCorpus(join(config.dataHome, 'input'));
  await mkdir(join(config.dataHome, 'secrets'), { mode: 0o700 });
  await writeFile(join(config.dataHome, 'secrets', 'canary.json'), JSON.stringify({ value: SECRET_CANARY }), {
    mode: 0o600,
  });
});
afterAll(async () => {
  await client.close();
  await adapters.close();
  await cleanup();
});

const manifest = () =>
  parsePipelineManifest(`
kind: Pipeline
account: canary
metadata: { name: canary }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service:
    runner:
      kind: standalone
      # The model server refuses to start unless the variable is set: Complete proves the session received it.
      args: [--require-env, MODEL_API_TOKEN]
      env: { MODEL_API_TOKEN: { secretRef: { name: canary, key: value } }, PLAIN_SETTING: visible }
  evaluation: { replications: 1, workersPerReplica: 2 }
  report: { rubric: classification.accuracy }
`);

describe('secret canaries on the embedded default', { timeout: 240_000 }, () => {
  it('a referenced secret reaches the session and HF_TOKEN the worker, and neither is written anywhere', async () => {
    const worker = await spawnWorker(config, { HF_TOKEN: HF_CANARY });
    let view;
    try {
      const { id } = await pipelines.start(manifest());
      view = await pipelines.wait(id);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
    expect(view.status, JSON.stringify(view)).toBe('Complete');
    const service = await client.get(view.stages.inferenceService.id!);
    expect(JSON.stringify(service)).toContain('"secretRef"');

    // The search can find things: the secrets file itself holds the canary.
    expect(await filesContaining(config.dataHome, SECRET_CANARY, () => false)).toEqual([
      'secrets/canary.json',
    ]);
    for (const canary of [SECRET_CANARY, HF_CANARY]) {
      // Objects (reports, service.json, logs), jobs/<name>/{spec.json,output.log}, sessions/, entities.sqlite.
      expect(await filesContaining(config.dataHome, canary, SECRET_FILES), canary).toEqual([]);
      const histories = await historiesContaining(client.temporal, config.temporal.taskQueue, canary);
      expect(histories.count).toBeGreaterThanOrEqual(6);
      expect(histories.hits, canary).toEqual([]);
      expect(worker.output()).not.toContain(canary);
    }
    const stored = await filesContaining(config.dataHome, 'PLAIN_SETTING', SECRET_FILES);
    expect(stored).toContain(`objects/inferenceservices/${view.stages.inferenceService.id}/service.json`);
  });

  it('the model server refuses to start without a required variable, naming it', async () => {
    const r = await run(['serve-model', '--model-dir', corpus.modelDir, '--require-env', 'MODEL_API_TOKEN'], {
      PATH: process.env.PATH,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--require-env: MODEL_API_TOKEN not set/);
  });

  it('a spec naming a secret that is not there ends the evaluation Failed with a reason naming it', async () => {
    const worker = await spawnWorker(config);
    try {
      const m = manifest();
      const env = m.spec.service.runner.env!;
      env.MODEL_API_TOKEN = { secretRef: { name: 'absent', key: 'value' } };
      const { id } = await pipelines.start(m);
      const view = await pipelines.wait(id);
      expect(view.status).toBe('Failed');
      const evaluation = await client.get(view.stages.evaluation.id!);
      expect(evaluation?.status).toBe('Failed');
      expect(evaluation?.message).toMatch(/secret absent\/value not found/);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
});
