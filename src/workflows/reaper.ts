import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumInterval: '30s', maximumAttempts: 3 },
});

/**
 * One sweep of the reaper (run by the `dyff-reaper` schedule): entities left Created/Admitted by a workflow that
 * was terminated or is gone get their jobs and sessions stopped and end Terminated with a reason.
 */
export async function reaperWorkflow(): Promise<{ reaped: string[] }> {
  const { reaped } = await acts.reapOrphans({});
  return { reaped: reaped.map((r) => r.id) };
}
