/**
 * The reaper's schedule, installed by every worker at start: idempotent, so many workers (and restarts) leave one
 * schedule, updated to the period the newest worker was configured with.
 *
 *   await installReaperSchedule(client, { taskQueue: 'dyff', periodSeconds: 60 });
 */
import type { Client, ScheduleOptions } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { ReaperWorkflow } from './workflows/definitions.js';

export interface ReaperScheduleOptions {
  taskQueue: string;
  /** How often the reaper sweeps. */
  periodSeconds: number;
}

/** `dyff-reaper` on the default task queue; other task queues (tests, second installations) get their own. */
export function reaperScheduleId(taskQueue: string): string {
  return taskQueue === 'dyff' ? 'dyff-reaper' : `dyff-reaper-${taskQueue}`;
}

export async function installReaperSchedule(client: Client, opts: ReaperScheduleOptions): Promise<string> {
  const scheduleId = reaperScheduleId(opts.taskQueue);
  const options = {
    scheduleId,
    spec: { intervals: [{ every: `${opts.periodSeconds}s` }] },
    action: {
      type: 'startWorkflow',
      workflowType: ReaperWorkflow.name,
      workflowId: `${scheduleId}-sweep`,
      taskQueue: opts.taskQueue,
      args: [],
    },
    // One sweep at a time; a sweep missed while no worker ran is not worth catching up on.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
  } satisfies ScheduleOptions;
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({
      ...prev,
      spec: options.spec,
      action: options.action,
      policies: { ...prev.policies, ...options.policies },
    }));
  }
  return scheduleId;
}
