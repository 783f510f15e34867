import { ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { hasPatch } from './patch-baseline.js';
import type { Ending, VerifiedDataset } from '../domain/entity-endings.js';
import { datasetEnding } from '../domain/entity-endings.js';
import { datasetChecks, datasetWrites } from './activity-proxies.js';
import type { DatasetSpec } from '../domain/specs.js';
import { EntityLifecycle, StageFailure } from './entity-lifecycle.js';
import { requireValidInput } from './input.js';

export interface DatasetWorkflowInput {
  id: string;
  account: string;
  name?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec: DatasetSpec;
}

export interface DatasetWorkflowResult {
  id: string;
  status: 'Ready';
  rowCount: number;
  location: string;
}

/** Runs recorded before derived datasets (`spec.source.kind: dataset`) existed never took this branch. */
const DERIVED_DATASET_PATCH = 'derived-dataset-waits-for-its-source';

/**
 * raw data → fetch job → ingest job → manifest verified → Ready (or Error with a reason, or Terminated). A derived
 * dataset waits for its source Dataset instead of fetching.
 */
export async function datasetWorkflow(input: DatasetWorkflowInput): Promise<DatasetWorkflowResult> {
  requireValidInput('datasetWorkflow', input);
  const { id, spec } = input;
  const life = new EntityLifecycle('Dataset', input, true, true);
  // Runs before the lean patch created it by an activity; lean runs by a local activity, as for every other kind
  // (no task of its own for the server to dispatch); compact runs (all lean) with their admission, below.
  if (!life.lean) {
    await datasetWrites.createEntity({
      id,
      kind: 'Dataset',
      account: input.account,
      name: input.name,
      labels: input.labels,
      annotations: input.annotations,
      spec,
    });
  } else if (!life.compact) await life.create();
  return life.run(async () => {
    // A derived dataset reads its source Dataset's shards once that is Ready, and has nothing to fetch.
    const from =
      spec.source.kind === 'dataset' && hasPatch(DERIVED_DATASET_PATCH) ? spec.source.dataset : undefined;
    if (life.compact)
      await life.admit(from === undefined ? [] : [{ id: from, missing: 'DataSourceMissing' }], true);
    else {
      if (from !== undefined) await life.requireReady(from, 'DataSourceMissing');
      await life.transition(['Created'], 'Admitted');
    }
    if (from === undefined) await life.runJob('fetch-data', { id, spec }, 'FetchFailed');
    await life.runJob('ingest-dataset', { id, spec }, 'IngestFailed');
    life.view.stage = 'verify';
    let verified: VerifiedDataset & { finished?: Ending };
    try {
      const finish = life.finishRequest();
      // The check records Ready itself, with the tries retried so far (as the workflow's transition would).
      verified = await datasetChecks.verifyDataset({ id, ...(finish ? { finish } : {}) });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = err instanceof ApplicationFailure ? err : (err as { cause?: unknown }).cause;
      throw new StageFailure('VerifyFailed', cause instanceof Error ? cause.message : String(err));
    }
    life.view.stage = undefined;
    await life.succeed(datasetEnding(verified), verified.finished);
    return { id, status: 'Ready', rowCount: verified.rowCount, location: verified.location };
  });
}
