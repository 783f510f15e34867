import { ApplicationFailure, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities, VerifiedDataset } from '../activities/index.js';
import { NON_RETRYABLE } from '../domain/errors.js';
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

/*
 * A completion lost while the server was down is noticed by a timeout only: a short start-to-close for the quick
 * entity write, a heartbeat timeout for the verification (which heartbeats on a timer).
 */
const retry = { maximumInterval: '30s', maximumAttempts: 20, nonRetryableErrorTypes: [...NON_RETRYABLE] };
const writes = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry });
const acts = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry,
});

/** raw data → fetch job → ingest job → manifest verified → Ready (or Error with a reason, or Terminated). */
export async function datasetWorkflow(input: DatasetWorkflowInput): Promise<DatasetWorkflowResult> {
  requireValidInput('datasetWorkflow', input);
  const { id, spec } = input;
  const life = new EntityLifecycle('Dataset', input);
  await writes.createEntity({
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
      verified = await acts.verifyDataset({ id });
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
