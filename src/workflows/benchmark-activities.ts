import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE } from '../domain/errors.js';

/** Writing a benchmark's report across corruptions: two small objects, idempotent. */
export const benchmarkReports = proxyActivities<Pick<Activities, 'writeBenchmarkReport'>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '30s', maximumAttempts: 20, nonRetryableErrorTypes: [...NON_RETRYABLE] },
});
