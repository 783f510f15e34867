import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeMnistFolder } from '../../examples/mnist-folder.js';
import { DyffClient } from '../../src/client.js';
import { Pipelines } from '../../src/client-pipelines.js';
import type { Config } from '../../src/config.js';
import { parseManifest, parsePipelineManifest } from '../../src/domain/manifest.js';
import { query } from '../support/duckdb.js';
import type { RunningWorker } from '../support/temporal.js';
import { startWorker, testConfig } from '../support/temporal.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples');

let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let client: DyffClient;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  worker = await startWorker(config);
  client = await DyffClient.connect(config, worker.adapters);
});
afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await cleanup?.();
});

describe('the MNIST example on the embedded backends', () => {
  it(
    'PNG folders with the package split → dataset → trained MLP → standalone service → evaluation → accuracy report',
    { timeout: 240_000 },
    async () => {
      const datasetManifest = parseManifest(
        await readFile(join(EXAMPLES, 'mnist-dataset.yaml'), 'utf8'),
        'mnist-dataset.yaml',
      );
      const pipelineManifest = parsePipelineManifest(
        await readFile(join(EXAMPLES, 'mnist-pipeline.yaml'), 'utf8'),
        'mnist-pipeline.yaml',
      );
      // The pipeline reuses the dataset the user made first only while the two files say the same thing.
      expect(pipelineManifest.spec.dataset).toEqual(datasetManifest.spec);

      const png = join(config.dataHome, 'mnist-png');
      expect(await writeMnistFolder(png, { trainPerDigit: 60, testPerDigit: 20 })).toEqual({
        train: 600,
        test: 200,
      });
      const source = { kind: 'local' as const, path: png, include: '**/*.png' };
      (datasetManifest.spec as { source: unknown }).source = source;
      pipelineManifest.spec.dataset.source = source;

      const { id: datasetId } = await client.create(datasetManifest, { baseDir: EXAMPLES });
      const dataset = await client.wait(datasetId, { intervalMs: 200 });
      expect(dataset.status, dataset.message).toBe('Ready');
      const shards = join(config.dataHome, 'objects', 'datasets', datasetId, 'data');
      // The split is the package's: per digit, samples 0–59 train and 60–79 test, read from each file's path.
      const splits = await query(
        `SELECT split, label, count(*) AS n, min(path) AS first FROM read_parquet('${shards}/*.parquet')
         GROUP BY ALL ORDER BY split, label`,
      );
      expect(splits).toHaveLength(20);
      for (const s of splits) {
        expect(Number(s.n)).toBe(s.split === 'train' ? 60 : 20);
        expect(s.first).toBe(
          `${String(s.label)}/${String(s.split)}-${s.split === 'train' ? '0000' : '0060'}.png`,
        );
      }

      const modelDir = join(config.dataHome, 'mnist-mlp');
      const { stdout } = await promisify(execFile)(process.execPath, [
        '--import',
        'tsx',
        join(EXAMPLES, 'train-digits.ts'),
        '--dataset-dir',
        shards,
        '--out',
        modelDir,
      ]);
      const trained = /test accuracy ([\d.]+)% on 200/.exec(stdout);
      expect(trained, stdout).not.toBeNull();

      pipelineManifest.spec.model.source = { kind: 'local', path: modelDir };
      const pipelines = new Pipelines(client.temporal, config.temporal.taskQueue);
      const view = await pipelines.wait((await pipelines.start(pipelineManifest, { baseDir: EXAMPLES })).id);
      expect(view.status, JSON.stringify(view)).toBe('Complete');
      expect(view.stages.dataset).toMatchObject({ id: datasetId, status: 'Reused' });
      const report = await client.get(view.stages.report.id!);
      const metrics = report?.details?.metrics as { accuracy: number; scored: number };
      // Every test image went through the client as base64 and came back classified as the script classified it.
      expect(metrics.scored).toBe(200);
      expect(metrics.accuracy * 100).toBeCloseTo(Number(trained![1]), 1);
      expect(metrics.accuracy).toBeGreaterThan(0.7);
    },
  );
});
