import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { datasetManifest, fetchFixture, queryDataset } from './helpers/datasets.js';
import { digitFolder } from './helpers/digits.js';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv } from './helpers/step-env.js';

let env: StepEnv;
beforeEach(async () => {
  env = await createStepEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const ingest = (id: string, spec: Record<string, unknown> = {}) =>
  env.run('ingest-dataset', id, { ingest: spec });

describe('ingest-dataset, image-folders', () => {
  it('turns a PNG folder into Parquet with the bytes, size, format and folder label, sharded by bytes', async () => {
    const files = await digitFolder('png', [3, 7], 3);
    const id = await fetchFixture(env, files);
    // Auto-detected from the extensions; about two images per shard.
    const sizes = Object.values(files).map((b) => b.length);
    const run = await ingest(id, {
      shardBytes: Math.max(...sizes) * 2,
      split: { fractions: { a: 1, b: 1 } },
    });
    expect(run.code, run.last).toBe(0);

    const manifest = await datasetManifest(env, id);
    expect(manifest.rowCount).toBe(6);
    expect(manifest.artifacts.length).toBeGreaterThanOrEqual(3);
    expect(manifest.schema.columns).toEqual([
      { name: '_index_', type: 'BIGINT' },
      { name: 'image', type: 'BLOB' },
      { name: 'width', type: 'INTEGER' },
      { name: 'height', type: 'INTEGER' },
      { name: 'format', type: 'VARCHAR' },
      { name: 'label', type: 'VARCHAR' },
      { name: 'path', type: 'VARCHAR' },
      { name: 'split', type: 'VARCHAR' },
    ]);
    expect(manifest.schema.arrowSchema.fields[1]).toMatchObject({ name: 'image', type: 'binary' });
    const rows = await queryDataset(
      env,
      id,
      'SELECT _index_, shard, image, width, height, format, label, path FROM ds_rows ORDER BY _index_',
    );
    expect(rows.map((r) => [r._index_, r.label, r.path])).toEqual(
      Object.keys(files)
        .sort()
        .map((p, i) => [i, p[0], p]),
    );
    for (const r of rows) {
      expect(r).toMatchObject({ width: 28, height: 28, format: 'png' });
      // The bytes are the file's, unchanged.
      expect(Buffer.from(r.image as Uint8Array).equals(files[r.path as string]!)).toBe(true);
    }
    // Shards close by bytes: none but a lone image holds more than shardBytes.
    const perShard = new Map<number, number>();
    for (const r of rows) perShard.set(r.shard as number, (perShard.get(r.shard as number) ?? 0) + 1);
    expect([...perShard.values()].every((n) => n <= 2)).toBe(true);
  });

  it('writes image shards in row groups of a few MiB, in _index_ order, so a reader holds a group, not a shard', async () => {
    // Twelve noise PNGs of 768 KiB, stored uncompressed: one shard of 9 MiB, more than two row groups' worth.
    const noise = (seed: number) =>
      sharp({
        create: {
          width: 512,
          height: 512,
          channels: 3,
          background: '#000',
          noise: { type: 'gaussian', mean: 128 + seed, sigma: 60 },
        },
      })
        .png({ compressionLevel: 0 })
        .toBuffer();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++) files[`${i % 2}/${String(i).padStart(2, '0')}.png`] = await noise(i);
    const id = await fetchFixture(env, files);
    const run = await ingest(id);
    expect(run.code, run.last).toBe(0);

    const manifest = await datasetManifest(env, id);
    expect(manifest.artifacts.length).toBe(1);
    const file = env.store.localPath('datasets', `${id}/${manifest.artifacts[0]!.path}`);
    const instance = await DuckDBInstance.create();
    const connection = await instance.connect();
    try {
      const groups = (
        await connection.runAndReadAll(
          `SELECT row_group_num_rows AS n, row_group_bytes AS bytes, stats_min AS lo, stats_max AS hi
           FROM parquet_metadata(${quotedString(file)}) WHERE path_in_schema = '_index_' ORDER BY row_group_id`,
        )
      ).getRowObjectsJS();
      const image = Math.max(...Object.values(files).map((b) => b.length));
      // 4 MiB of images per group: five of 768 KiB, then five, then two; each a consecutive run of _index_.
      expect(groups.map((g) => Number(g.n))).toEqual([5, 5, 2]);
      expect(groups.map((g) => [Number(g.lo), Number(g.hi)])).toEqual([
        [0, 4],
        [5, 9],
        [10, 11],
      ]);
      for (const g of groups) expect(Number(g.bytes)).toBeLessThanOrEqual(4 * 2 ** 20 + image);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
    const rows = await queryDataset(env, id, 'SELECT _index_, image, path FROM ds ORDER BY _index_');
    expect(rows.map((r) => r.path)).toEqual(Object.keys(files).sort());
    for (const r of rows)
      expect(Buffer.from(r.image as Uint8Array).equals(files[r.path as string]!)).toBe(true);
  });

  it('reads a JPEG folder with a label pattern', async () => {
    const files = await digitFolder('jpeg', [1, 2], 2);
    const renamed = Object.fromEntries(Object.entries(files).map(([p, b]) => [`digit-${p}`, b]));
    const id = await fetchFixture(env, renamed);
    const run = await ingest(id, { format: 'image-folders', images: { labelPattern: '^digit-(\\d)$' } });
    expect(run.code, run.last).toBe(0);
    const rows = await queryDataset(env, id, 'SELECT label, format, width, image FROM ds ORDER BY _index_');
    expect(rows.map((r) => [r.label, r.format, r.width])).toEqual([
      ['1', 'jpeg', 28],
      ['1', 'jpeg', 28],
      ['2', 'jpeg', 28],
      ['2', 'jpeg', 28],
    ]);
    const meta = await sharp(Buffer.from(rows[0]!.image as Uint8Array)).metadata();
    expect(meta.format).toBe('jpeg');
  });

  it('fails naming the file when an image is corrupt, truncated or not an image', async () => {
    const files = await digitFolder('png', [5], 2);
    const good = files['5/0.png']!;
    for (const [name, bytes] of [
      ['5/garbage.png', Buffer.from('this is not an image')],
      ['5/cut.png', good.subarray(0, good.length - 20)],
    ] as const) {
      const id = await fetchFixture(env, { ...files, [name]: bytes });
      const run = await ingest(id);
      expect(run.code).not.toBe(0);
      expect(run.last).toContain(name);
    }
  });
});
