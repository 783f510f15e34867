import { ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { VerifiedDataset } from '../activities/index.js';
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

/** raw data → fetch job → ingest job → manifest verified → Ready (or Error with a reason, or Terminated). */
export async function datasetWorkflow(input: DatasetWorkflowInput): Promise<DatasetWorkflowResult> {
  requireValidInput('datasetWorkflow', input);
  const { id, spec } = input;
  const life = new EntityLifecycle('Dataset', input);
  await datasetWrites.createEntity({
    id,
    kind: 'Dataset',
    account: input.account,
    name: input.name,
    labels: input.labels,
    annotations: input.annotations,
    spec,
  });
  return life.run(async () => {
    await life.transition(['Created'], 'Admitted');
    await life.runJob('fetch-data', { id, spec }, 'FetchFailed');
    await life.runJob('ingest-dataset', { id, spec }, 'IngestFailed');
    life.view.stage = 'verify';
    let verified: VerifiedDataset;
    try {
      verified = await datasetChecks.verifyDataset({ id });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = err instanceof ApplicationFailure ? err : (err as { cause?: unknown }).cause;
      throw new StageFailure('VerifyFailed', cause instanceof Error ? cause.message : String(err));
    }
    life.view.stage = undefined;
    await life.transition(['Admitted'], 'Ready', undefined, `${verified.rowCount} rows`, {
      rowCount: verified.rowCount,
      artifacts: verified.artifacts,
      columns: verified.columns,
      location: verified.location,
    });
    return { id, status: 'Ready', rowCount: verified.rowCount, location: verified.location };
  });
}
