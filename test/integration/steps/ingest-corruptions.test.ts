import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deniedCalls, storeFor } from '../../../src/adapters/object-store/enforce.js';
import { stepBindings } from '../../../src/domain/grant-scope.js';
import { datasetManifest, fetchFixture, queryDataset } from './helpers/datasets.js';
import { digitFolder } from './helpers/digits.js';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv, newId } from './helpers/step-env.js';

let env: StepEnv;
let clean: string;
let cleanRows: Row[];

interface Row {
  _index_: number;
  label: string;
  split: string;
  format: string;
  width: number;
  image: Uint8Array;
}

const rowsOf = (id: string) =>
  queryDataset(
    env,
    id,
    'SELECT _index_, label, split, format, width, image FROM ds ORDER BY _index_',
  ) as Promise<unknown[]> as Promise<Row[]>;

async function derive(name: string, severity: number, seed?: string): Promise<string> {
  const id = newId();
  const run = await env.run('ingest-dataset', id, {
    source: { kind: 'dataset', dataset: clean, corruption: { name, severity, seed } },
  });
  expect(run.code, run.last).toBe(0);
  return id;
}

/** Grey intensities in [0, 255] of every image, decoded. */
const pixels = (rows: Row[]) => Promise.all(rows.map((r) => sharp(r.image).greyscale().raw().toBuffer()));

const mean = (images: Buffer[]) => {
  let sum = 0;
  let n = 0;
  for (const img of images)
    for (const v of img) {
      sum += v;
      n++;
    }
  return sum / n;
};
const spread = (images: Buffer[]) => {
  const m = mean(images);
  let sq = 0;
  let n = 0;
  for (const img of images)
    for (const v of img) {
      sq += (v - m) ** 2;
      n++;
    }
  return Math.sqrt(sq / n);
};
/** Energy in the differences between horizontal neighbours: what a blur removes. */
const highFrequency = (images: Buffer[]) => {
  let e = 0;
  for (const img of images)
    for (let i = 0; i < img.length; i++) if (i % 28 !== 27) e += (img[i + 1]! - img[i]!) ** 2;
  return e;
};
const distance = (a: Buffer[], b: Buffer[]) => {
  let d = 0;
  a.forEach((img, k) => img.forEach((v, i) => (d += Math.abs(v - b[k]![i]!))));
  return d;
};

beforeAll(async () => {
  env = await createStepEnv();
  clean = await fetchFixture(env, await digitFolder('png', [0, 4, 8], 2));
  const run = await env.run('ingest-dataset', clean, {
    ingest: { split: { fractions: { train: 1, test: 1 } } },
  });
  expect(run.code, run.last).toBe(0);
  cleanRows = await rowsOf(clean);
});
afterAll(async () => {
  await env?.cleanup();
});

describe('derived datasets: ImageNet-C corruptions', () => {
  it('keeps _index_, labels and splits, writes PNG and records the lineage', async () => {
    const id = await derive('contrast', 3);
    const rows = await rowsOf(id);
    expect(rows.map((r) => [r._index_, r.label, r.split, r.width, r.format])).toEqual(
      cleanRows.map((r) => [r._index_, r.label, r.split, r.width, 'png']),
    );
    const manifest = await datasetManifest(env, id);
    expect(manifest.derivedFrom).toEqual({
      dataset: clean,
      corruption: { name: 'contrast', severity: 3, seed: 'dyff', column: 'image' },
      parameter: 0.2,
    });
    expect(manifest.rowCount).toBe(cleanRows.length);
  });

  it('derives every row of a source larger than one DuckDB chunk (2,048 rows)', async () => {
    const big = await fetchFixture(env, await digitFolder('png', [0, 1, 2], 750));
    const ingested = await env.run('ingest-dataset', big, {});
    expect(ingested.code, ingested.last).toBe(0);
    const id = newId();
    const run = await env.run('ingest-dataset', id, {
      source: { kind: 'dataset', dataset: big, corruption: { name: 'brightness', severity: 1 } },
    });
    expect(run.code, run.last).toBe(0);
    expect((await datasetManifest(env, id)).rowCount).toBe(2250);
    const [counts] = (await queryDataset(
      env,
      id,
      "SELECT count(*)::INT AS n, count(DISTINCT _index_)::INT AS indexes, count(*) FILTER (label = '1')::INT AS ones FROM ds",
    )) as { n: number; indexes: number; ones: number }[];
    expect(counts).toEqual({ n: 2250, indexes: 2250, ones: 750 });
  });

  it('brightness raises mean intensity, more at severity 5', async () => {
    const base = mean(await pixels(cleanRows));
    const one = mean(await pixels(await rowsOf(await derive('brightness', 1))));
    const five = mean(await pixels(await rowsOf(await derive('brightness', 5))));
    expect(one).toBeGreaterThan(base);
    expect(five).toBeGreaterThan(one);
  });

  it('contrast narrows the spread of intensities, more at severity 5', async () => {
    const base = spread(await pixels(cleanRows));
    const one = spread(await pixels(await rowsOf(await derive('contrast', 1))));
    const five = spread(await pixels(await rowsOf(await derive('contrast', 5))));
    expect(one).toBeLessThan(base);
    expect(five).toBeLessThan(one);
  });

  it('gaussian_blur lowers high-frequency energy, more at severity 5', async () => {
    const base = highFrequency(await pixels(cleanRows));
    const one = highFrequency(await pixels(await rowsOf(await derive('gaussian_blur', 1))));
    const five = highFrequency(await pixels(await rowsOf(await derive('gaussian_blur', 5))));
    expect(one).toBeLessThan(base);
    expect(five).toBeLessThan(one);
  });

  it('gaussian_noise moves pixels further at severity 5, and the same seed gives the same images', async () => {
    const base = await pixels(cleanRows);
    const one = await rowsOf(await derive('gaussian_noise', 1));
    const five = await rowsOf(await derive('gaussian_noise', 5));
    expect(distance(await pixels(one), base)).toBeGreaterThan(0);
    expect(distance(await pixels(five), base)).toBeGreaterThan(distance(await pixels(one), base));
    const again = await rowsOf(await derive('gaussian_noise', 1));
    expect(again.map((r) => Buffer.from(r.image).toString('base64'))).toEqual(
      one.map((r) => Buffer.from(r.image).toString('base64')),
    );
    const other = await rowsOf(await derive('gaussian_noise', 1, 'another seed'));
    expect(distance(await pixels(other), await pixels(one))).toBeGreaterThan(0);
  });

  it("runs within the ingest step's grants: its own dataset, and reads of the source dataset", async () => {
    const id = newId();
    const spec = {
      source: { kind: 'dataset', dataset: clean, corruption: { name: 'contrast', severity: 1 } },
    };
    const enforce = { storage: { enforceGrants: true, withholdGrants: [] } };
    const objectStore = storeFor(env.store, enforce, 'ingest-dataset', stepBindings(id, spec));
    const run = await env.run('ingest-dataset', id, spec, { objectStore });
    expect(run.code, run.last).toBe(0);
    expect(deniedCalls(objectStore)).toEqual([]);
  });

  it('fails naming spec.source.dataset when the source dataset was never ingested', async () => {
    const run = await env.run('ingest-dataset', newId(), {
      source: { kind: 'dataset', dataset: newId(), corruption: { name: 'brightness', severity: 1 } },
    });
    expect(run.code).not.toBe(0);
    expect(run.last).toContain('spec.source.dataset');
  });

  it('refuses spec.ingest options, which a derived dataset cannot honour, naming the field', async () => {
    const run = await env.run('ingest-dataset', newId(), {
      source: { kind: 'dataset', dataset: clean, corruption: { name: 'brightness', severity: 1 } },
      ingest: { split: { fractions: { a: 1 } } },
    });
    expect(run.code).not.toBe(0);
    expect(run.last).toContain('spec.ingest.split');
  });
});
