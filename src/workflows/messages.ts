import { defineQuery } from '@temporalio/workflow';
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
