import { Context } from '@temporalio/activity';
import { DyffError, ErrorType } from '../domain/errors.js';
import type { ObjectStore } from '../ports/object-store.js';
// The format the ingest step writes (last, after every shard it lists).
import type { DatasetManifest } from '../domain/artifacts.js';
import type { Ending, FinishRequest, VerifiedDataset } from '../domain/entity-endings.js';
import { datasetEnding, endingDetails } from '../domain/entity-endings.js';
import { datasetKeys, entityLocation } from '../domain/object-layout.js';
import type { EntityStore } from '../ports/entity-store.js';
import { translated } from './errors.js';
import { heartbeatEvery } from './step-policy.js';

export type { VerifiedDataset } from '../domain/entity-endings.js';

export interface VerifyDatasetInput {
  id: string;
  /** Record the Dataset's ending (Ready, with what was verified) once its shards check out. */
  finish?: FinishRequest;
}

export const createDatasetActivities = (objects: ObjectStore, store: EntityStore) => ({
  /**
   * Check every artifact the manifest lists against the object store: present, same size, same md5. With
   * `finish`, the Dataset is then moved to Ready here, and the ending returned as `finished`.
   */
  async verifyDataset(input: VerifyDatasetInput): Promise<VerifiedDataset & { finished?: Ending }> {
    // Heartbeats let a lost completion (the server was down) be noticed within the heartbeat timeout.
    const stopBeating = heartbeatEvery(Context.current(), () => ({ stage: 'verify' }));
    return translated(async () => {
      const verified = await verify(objects, input.id);
      if (!input.finish) return verified;
      const finished = datasetEnding(verified);
      const { allowedFrom, retries } = input.finish;
      const details = endingDetails(finished, retries);
      await store.transition({
        id: input.id,
        allowedFrom,
        to: finished.to,
        message: finished.message,
        details,
      });
      return { ...verified, finished: { ...finished, details } };
    }).finally(stopBeating);
  },
});

/** The manifest's artifacts checked against the store, and what the Dataset's details record of them. */
async function verify(objects: ObjectStore, id: string): Promise<VerifiedDataset> {
  const manifestKey = datasetKeys.manifest(id);
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
    const key = datasetKeys.artifact(id, a.path);
    const info = await objects.stat('datasets', key);
    if (!info)
      throw new DyffError(ErrorType.ManifestMismatch, `datasets/${key}: listed in the manifest but missing`);
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
}
