import { datasetKeys } from '../../domain/object-layout.js';
import type { IngestSpec } from '../../domain/specs.js';
import type { StepContext } from '../context.js';
import type { DatasetManifest } from '../manifests.js';
import type { Shard } from './shards.js';

export const shardName = (i: number) => `part-${String(i).padStart(5, '0')}.parquet`;

/**
 * Puts the shards written locally into the store as `datasets/<id>/data/part-NNNNN.parquet` and the manifest
 * last. The old manifest goes first: from then on the shards change, and a manifest must never describe a mix. A
 * rerun rewrites the same shard names and removes shards an earlier attempt wrote beyond the new count.
 */
export async function publishDataset(
  ctx: StepContext,
  id: string,
  ingest: IngestSpec,
  schema: DatasetManifest['schema'],
  shards: readonly Shard[],
  /** Lineage carried into the dataset's own record: a Hub source's commit, a derived dataset's source. */
  lineage: Pick<DatasetManifest, 'commit' | 'derivedFrom'> = {},
): Promise<DatasetManifest> {
  const { log, objectStore: store, signal } = ctx;
  const rowCount = shards.reduce((n, s) => n + s.rows, 0);
  await store.delete('datasets', datasetKeys.manifest(id));
  // Listed before the upload: the listing hashes what it finds, and the new shards are hashed as they are put.
  const earlier = await store.list('datasets', datasetKeys.shards(id));
  const artifacts: DatasetManifest['artifacts'] = [];
  let done = 0;
  for (const [i, shard] of shards.entries()) {
    signal?.throwIfAborted();
    const path = `data/${shardName(i)}`;
    const info = await store.putFile('datasets', datasetKeys.artifact(id, path), shard.file);
    artifacts.push({ kind: 'parquet', path, rows: shard.rows, size: info.size, digest: { md5: info.md5 } });
    done += shard.rows;
    log.progress({ done, total: rowCount, unit: 'rows', message: `wrote ${path}` });
  }
  const keep = new Set(artifacts.map((a) => `${id}/${a.path}`));
  for (const stale of earlier.filter((o) => !keep.has(o.key))) {
    await store.delete('datasets', stale.key);
    log.info(`remove ${stale.key} (from an earlier attempt)`);
  }
  const manifest: DatasetManifest = {
    rowCount,
    artifacts,
    schema,
    ingest,
    ...lineage,
    createdAt: new Date().toISOString(),
  };
  await store.put('datasets', datasetKeys.manifest(id), JSON.stringify(manifest, null, 2), {
    contentType: 'application/json',
  });
  log.info(`ingested ${rowCount} rows into ${artifacts.length} shard(s) under datasets/${id}/data/`);
  return manifest;
}
