import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { StageName, StageView } from '../domain/pipeline.js';
import type { Reason, Status } from '../domain/status.js';

export interface StatusView {
  id: string;
  status: Status;
  reason?: Reason;
  message?: string;
  /** The step running now (fetch, ingest, verify), if any. */
  stage?: string;
  jobName?: string;
}

export const statusQuery = defineQuery<StatusView>('status');

/**
 * Check the awaited dependency now instead of at the next poll; completes once the check is done, with the number
 * of checks made so far in this run. Rejected when the workflow waits for no dependency.
 */
export const recheckDependencyUpdate = defineUpdate<number>('recheckDependency');

/** A pipeline run: its own id (a scheduled run makes one), its status and each stage's entity and status. */
export interface PipelineView {
  id: string;
  status: 'Admitting' | 'Running' | 'Complete' | 'Failed' | 'Terminated';
  reason?: string;
  stages: Record<StageName, StageView>;
  /** The audits the spec lists, in order, once the report is Complete. */
  audits?: StageView[];
}

export const pipelineQuery = defineQuery<PipelineView>('pipeline');
