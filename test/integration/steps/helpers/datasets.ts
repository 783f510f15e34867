import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import type { DatasetManifest } from '../../../../src/steps/manifests.js';
import type { StepEnv } from './step-env.js';
import { newId } from './step-env.js';

/** Writes `files` (relative path → content) under a fresh folder and fetches it as a local source. */
export async function fetchFixture(env: StepEnv, files: Record<string, string | Buffer>): Promise<string> {
  const dir = join(env.root, `src-${newId()}`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return fetchLocal(env, dir);
}

export async function fetchLocal(env: StepEnv, path: string, include?: string): Promise<string> {
  const id = newId();
  const run = await env.run('fetch-data', id, { source: { kind: 'local', path, include } });
  expect(run.last).toBe(`fetch-data ${id}: done`);
  return id;
}

export async function datasetManifest(env: StepEnv, id: string): Promise<DatasetManifest> {
  return JSON.parse(
    (await env.store.getBuffer('datasets', `${id}/manifest.json`)).toString(),
  ) as DatasetManifest;
}

/**
 * Runs SQL over the dataset's Parquet shards as written, exposed as the view `ds`, and as `ds_rows` with where
 * each row sits: `shard` (0-based, manifest order) and `file_row_number` (its position in the shard).
 */
export async function queryDataset(
  env: StepEnv,
  id: string,
  sql: string,
): Promise<Record<string, unknown>[]> {
  const manifest = await datasetManifest(env, id);
  const files = manifest.artifacts.map((a) =>
    quotedString(env.store.localPath('datasets', `${id}/${a.path}`)),
  );
  const instance = await DuckDBInstance.create();
  const connection = await instance.connect();
  try {
    const list = `[${files.join(', ')}]`;
    await connection.run(`CREATE VIEW ds AS SELECT * FROM read_parquet(${list})`);
    await connection.run(
      `CREATE VIEW ds_rows AS SELECT * EXCLUDE (filename), list_position(${list}, filename) - 1 AS shard
       FROM read_parquet(${list}, file_row_number = true, filename = true)`,
    );
    const rows = (await connection.runAndReadAll(sql)).getRowObjectsJS();
    // BIGINTs come back as bigint; numbers compare more readably in assertions.
    return rows.map((row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
