/**
 * What one run costs the Temporal server, counted from its real histories: the run and every child it started
 * (recursively), plus any other workflow it kept busy (a quota semaphore), summed. These counts do not depend on
 * the machine's load, so they can be compared on a shared machine where times cannot.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface RunCounts {
  /** Workflows whose histories were summed. */
  workflows: number;
  events: number;
  /** Workflow tasks scheduled: each is a dispatch to a worker and a history write. */
  workflowTasks: number;
  /** Activity tasks scheduled (through matching, or eagerly dispatched). */
  activityTasks: number;
  /** Local activities (marker events; no task of their own). */
  localActivities: number;
  /** Other markers (patches). */
  markers: number;
  timers: number;
  /** Search attribute upserts and memo writes (each an event of its own). */
  upserts: number;
  /** Signals received and sent. */
  signals: number;
  /** Child workflows started. */
  children: number;
  /**
   * Of `workflowTasks`, those a slow machine adds, not the run's code: the retry of a task that timed out, and the
   * task the SDK adds when one runs past 75 % of its timeout (it completes the task early to keep its local
   * activities running, and goes on in a new one).
   */
  lateWorkflowTasks: number;
}

export const ZERO_COUNTS: RunCounts = {
  workflows: 0,
  events: 0,
  workflowTasks: 0,
  activityTasks: 0,
  localActivities: 0,
  markers: 0,
  timers: 0,
  upserts: 0,
  signals: 0,
  children: 0,
  lateWorkflowTasks: 0,
};

/** A history's timestamp or duration in milliseconds. */
export const protoMs = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

/** The counts of one history's events. */
export function countEvents(events: HistoryEvent[]): RunCounts {
  const c = { ...ZERO_COUNTS, workflows: 1, events: events.length };
  const timeout = protoMs(events[0]?.workflowExecutionStartedEventAttributes?.workflowTaskTimeout) || 10_000;
  const started = new Map<number, number>();
  for (const e of events) {
    if (e.workflowTaskStartedEventAttributes) started.set(Number(e.eventId), protoMs(e.eventTime));
    else if (e.workflowTaskCompletedEventAttributes) {
      const from = started.get(Number(e.workflowTaskCompletedEventAttributes.startedEventId));
      if (from !== undefined && protoMs(e.eventTime) - from >= 0.75 * timeout) c.lateWorkflowTasks++;
    } else if (e.workflowTaskTimedOutEventAttributes) c.lateWorkflowTasks++;
    if (e.workflowTaskScheduledEventAttributes) c.workflowTasks++;
    else if (e.activityTaskScheduledEventAttributes) c.activityTasks++;
    else if (e.markerRecordedEventAttributes) {
      if (e.markerRecordedEventAttributes.markerName?.includes('local_activity')) c.localActivities++;
      else c.markers++;
    } else if (e.timerStartedEventAttributes) c.timers++;
    else if (e.upsertWorkflowSearchAttributesEventAttributes || e.workflowPropertiesModifiedEventAttributes)
      c.upserts++;
    else if (
      e.workflowExecutionSignaledEventAttributes ||
      e.signalExternalWorkflowExecutionInitiatedEventAttributes
    )
      c.signals++;
    else if (e.startChildWorkflowExecutionInitiatedEventAttributes) c.children++;
  }
  return c;
}

export function addCounts(a: RunCounts, b: RunCounts): RunCounts {
  return Object.fromEntries(
    Object.entries(a).map(([k, v]) => [k, v + b[k as keyof RunCounts]]),
  ) as unknown as RunCounts;
}

/** The ids of the children a history started. */
function childIds(events: HistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const id = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
    return id ? [id] : [];
  });
}

/** The histories of a (closed) run and of every child it started, recursively. */
export async function* runHistories(client: Client, workflowId: string): AsyncGenerator<HistoryEvent[]> {
  const pending = [workflowId];
  while (pending.length) {
    const events = (await client.workflow.getHandle(pending.shift()!).fetchHistory()).events ?? [];
    yield events;
    pending.push(...childIds(events));
  }
}

/**
 * The sum over a (closed) run and its children, and over `others`: workflows that outlive the run (a semaphore)
 * and were started for it alone, read once their last workflow task has completed.
 */
export async function countRun(
  client: Client,
  workflowId: string,
  others: string[] = [],
): Promise<RunCounts> {
  let total = ZERO_COUNTS;
  for await (const events of runHistories(client, workflowId)) total = addCounts(total, countEvents(events));
  for (const id of others) total = addCounts(total, countEvents(await settledHistory(client, id)));
  return total;
}

/** A running workflow's history once it is idle: its last event a completed workflow task (within 5 s). */
async function settledHistory(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const last = events.at(-1);
    if (last?.workflowTaskCompletedEventAttributes || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `events=… workflow_tasks=…` with a prefix, for the bench's last line. */
export function formatCounts(prefix: string, c: RunCounts): string {
  return Object.entries(c)
    .map(([k, v]) => `${prefix}${k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`)}=${v}`)
    .join(' ');
}
