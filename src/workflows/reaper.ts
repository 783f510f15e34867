import { reaper } from './activity-proxies.js';

/**
 * One sweep of the reaper (run by the `dyff-reaper` schedule): entities left Created/Admitted by a workflow that
 * was terminated or is gone get their jobs and sessions stopped and end Terminated with a reason.
 */
export async function reaperWorkflow(): Promise<{ reaped: string[] }> {
  const { reaped } = await reaper.reapOrphans({});
  return { reaped: reaped.map((r) => r.id) };
}
