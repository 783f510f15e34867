import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DyffClient } from '../../src/client.js';
import type { Config } from '../../src/config.js';
import { validateManifest } from '../../src/domain/manifest.js';
import { datasetKeys } from '../../src/domain/object-layout.js';
import type { DatasetManifest } from '../../src/steps/manifests.js';
import { query } from '../support/duckdb.js';
import type { RunningWorker } from '../support/temporal.js';
import { startWorker, testConfig } from '../support/temporal.js';
import { digitFolder } from './steps/helpers/digits.js';

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

async function createDataset(spec: unknown, name: string) {
  const manifest = validateManifest(
    { kind: 'Dataset', account: 'test', metadata: { name }, spec },
    `${name}.yaml`,
  );
  const { id } = await client.create(manifest, { baseDir: config.dataHome });
  return { id, view: await client.wait(id, { intervalMs: 200 }) };
}

async function writeFolder(name: string, files: Record<string, Buffer>): Promise<string> {
  const root = join(config.dataHome, name);
  for (const [path, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), bytes);
  }
  return root;
}

const images = (id: string) =>
  query(
    `SELECT _index_, label, image FROM read_parquet('${join(config.dataHome, 'objects', 'datasets', id, 'data', '*.parquet')}') ORDER BY _index_`,
  );

const meanIntensity = async (rows: Record<string, unknown>[]) => {
  let sum = 0;
  let n = 0;
  for (const r of rows) {
    const px = await sharp(Buffer.from(r.image as Uint8Array))
      .greyscale()
      .raw()
      .toBuffer();
    for (const v of px) sum += v;
    n += px.length;
  }
  return sum / n;
};

describe('image Datasets end to end on the embedded backends', () => {
  it('a PNG folder becomes Ready, and a brightness-5 dataset derived from it is Ready with its lineage', async () => {
    const root = await writeFolder('digits', await digitFolder('png', [1, 7], 2));
    const clean = await createDataset({ source: { kind: 'local', path: root } }, 'digits');
    expect(clean.view.status).toBe('Ready');
    expect(clean.view.details).toMatchObject({ rowCount: 4 });

    const derived = await createDataset(
      { source: { kind: 'dataset', dataset: clean.id, corruption: { name: 'brightness', severity: 5 } } },
      'digits-brightness-5',
    );
    expect(derived.view.status).toBe('Ready');
    const manifest = JSON.parse(
      (await worker.adapters.objectStore.getBuffer('datasets', datasetKeys.manifest(derived.id))).toString(),
    ) as DatasetManifest;
    expect(manifest.derivedFrom).toMatchObject({ dataset: clean.id, parameter: 0.5 });
    const [before, after] = [await images(clean.id), await images(derived.id)];
    expect(after.map((r) => [Number(r._index_), r.label])).toEqual(
      before.map((r) => [Number(r._index_), r.label]),
    );
    expect(await meanIntensity(after)).toBeGreaterThan(await meanIntensity(before));
  });

  it('a corrupt image ends the Dataset Error/IngestFailed with a reason naming the file', async () => {
    const files = await digitFolder('jpeg', [4], 2);
    const root = await writeFolder('broken', { ...files, '4/broken.jpg': Buffer.from('not a jpeg at all') });
    const { view } = await createDataset({ source: { kind: 'local', path: root } }, 'broken');
    expect(view).toMatchObject({ status: 'Error', reason: 'IngestFailed' });
    expect(view.message).toContain('4/broken.jpg');
  });
});
