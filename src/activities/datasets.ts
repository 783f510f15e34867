import { Context } from '@temporalio/activity';
import { DyffError, ErrorType } from '../domain/errors.js';
import type { ObjectStore } from '../ports/object-store.js';
// The format the ingest step writes (last, after every shard it lists).
import type { DatasetManifest } from '../domain/artifacts.js';
import { datasetKeys, entityLocation } from '../domain/object-layout.js';
import { translated } from './errors.js';
import { heartbeatEvery } from './step-policy.js';

export interface VerifiedDataset {
  rowCount: number;
  artifacts: DatasetManifest['artifacts'];
  columns: { name: string; type: string }[];
  location: string;
}

export const createDatasetActivities = (objects: ObjectStore) => ({
  /** Check every artifact the manifest lists against the object store: present, same size, same md5. */
  async verifyDataset(input: { id: string }): Promise<VerifiedDataset> {
    // Heartbeats let a lost completion (the server was down) be noticed within the heartbeat timeout.
    const stopBeating = heartbeatEvery(Context.current(), () => ({ stage: 'verify' }));
    const manifestKey = datasetKeys.manifest(input.id);
    return translated(async () => {
      let manifest: DatasetManifest;
      try {
        manifest = JSON.parse((await objects.getBuffer('datasets', manifestKey)).toString('utf8'));
      } catch (err) {
        if (err instanceof DyffError && err.type === ErrorType.NotFound) {
          throw new DyffError(ErrorType.ManifestMismatch, `datasets/${manifestKey} is missing`);
        }
        throw err;
      }
      if (!Array.isArray(manifest.artifacts) || manifest.artifacts.length === 0) {
        throw new DyffError(ErrorType.ManifestMismatch, `datasets/${manifestKey} lists no artifacts`);
      }
      let rows = 0;
      for (const a of manifest.artifacts) {
        const key = datasetKeys.artifact(input.id, a.path);
        const info = await objects.stat('datasets', key);
        if (!info)
          throw new DyffError(
            ErrorType.ManifestMismatch,
            `datasets/${key}: listed in the manifest but missing`,
          );
        if (a.size !== undefined && info.size !== a.size) {
          throw new DyffError(
            ErrorType.ManifestMismatch,
            `datasets/${key}: size ${info.size}, manifest says ${a.size}`,
          );
        }
        if (info.md5 !== a.digest.md5) {
          throw new DyffError(
            ErrorType.ManifestMismatch,
            `datasets/${key}: md5 ${info.md5}, manifest says ${a.digest.md5}`,
          );
        }
        rows += a.rows ?? 0;
      }
      if (manifest.artifacts.every((a) => a.rows !== undefined) && rows !== manifest.rowCount) {
        throw new DyffError(
          ErrorType.ManifestMismatch,
          `shards hold ${rows} rows, manifest says ${manifest.rowCount}`,
        );
      }
      return {
        rowCount: manifest.rowCount,
        artifacts: manifest.artifacts,
        columns: manifest.schema?.columns ?? [],
        location: entityLocation(objects.uri('datasets', manifestKey)),
      };
    }).finally(stopBeating);
  },
});
