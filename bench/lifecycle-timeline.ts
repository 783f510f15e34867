/**
 * Where one run's time goes, read from its real histories (the run and every child it started): each gap between
 * two consecutive events of a workflow is put under what the workflow was waiting for in it — a workflow task
 * queued on the server or running on the worker, an activity queued or running, a child being started — so that
 * ours and the skeleton's can be set side by side by category. Gaps in which a workflow waits on a running child
 * are left out: the child's own history accounts for them. Times are the server's event times.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { protoMs, runHistories } from './lifecycle-counts.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const ms = (e: HistoryEvent) => protoMs(e.eventTime);

/** The kind of one event, as the gap categories name it. */
function kind(e: HistoryEvent): string {
  if (e.workflowTaskScheduledEventAttributes) return 'wft-scheduled';
  if (e.workflowTaskStartedEventAttributes) return 'wft-started';
  if (e.workflowTaskCompletedEventAttributes) return 'wft-completed';
  if (e.activityTaskScheduledEventAttributes) return 'activity-scheduled';
  if (e.activityTaskStartedEventAttributes) return 'activity-started';
  if (e.activityTaskCompletedEventAttributes) return 'activity-completed';
  if (e.startChildWorkflowExecutionInitiatedEventAttributes) return 'child-initiated';
  if (e.childWorkflowExecutionStartedEventAttributes) return 'child-started';
  if (e.childWorkflowExecutionCompletedEventAttributes) return 'child-completed';
  if (e.workflowExecutionStartedEventAttributes) return 'started';
  if (e.workflowExecutionSignaledEventAttributes) return 'signaled';
  if (e.timerStartedEventAttributes) return 'timer-started';
  if (e.timerFiredEventAttributes) return 'timer-fired';
  return 'other';
}

export const FIRST_TASK = "workflow task on the worker: the workflow's first";

/** What the workflow task completed by events[i] did: its first, one that ran local activities, or another. */
function workflowTask(events: HistoryEvent[], i: number): string {
  if (!events.slice(0, i - 1).some((e) => e.workflowTaskCompletedEventAttributes)) return FIRST_TASK;
  // A task's local activities are recorded as markers right after it completes.
  let n = 0;
  for (let j = i + 1; j < events.length && !events[j]!.workflowTaskScheduledEventAttributes; j++)
    if (events[j]!.markerRecordedEventAttributes?.markerName?.includes('local_activity')) n++;
  return n
    ? `workflow task on the worker: with ${n} local activit${n > 1 ? 'ies' : 'y'}`
    : 'workflow task on the worker: other';
}

/** The category of the gap from an event of kind `a` to the next, of kind `b`; undefined: not counted. */
function category(a: string, b: string, waitingOnChild: boolean): string | undefined {
  if (b === 'wft-started') return 'workflow task: queued on the server';
  if (b === 'activity-started') return 'activity: queued';
  if (a === 'activity-started' && b === 'activity-completed') return 'activity: running';
  if (b === 'child-started') return 'child: being started';
  if (waitingOnChild) return undefined;
  if (a === 'timer-started') return 'timer';
  if (b === 'wft-scheduled') return `workflow task: until scheduled (after ${a})`;
  return `other (${a} → ${b})`;
}

export interface Timeline {
  workflows: number;
  /** ms per category, summed over every workflow of the run. */
  byCategory: Map<string, number>;
  /** How many gaps each category holds. */
  counts: Map<string, number>;
}

/** The timeline of a closed run and its children. */
export async function runTimeline(client: Client, workflowId: string): Promise<Timeline> {
  const byCategory = new Map<string, number>();
  const counts = new Map<string, number>();
  let workflows = 0;
  for await (const events of runHistories(client, workflowId)) {
    workflows++;
    let running = 0; // children started and not yet closed
    for (let i = 1; i < events.length; i++) {
      const [a, b] = [kind(events[i - 1]!), kind(events[i]!)];
      const cat =
        a === 'wft-started' && b === 'wft-completed' ? workflowTask(events, i) : category(a, b, running > 0);
      if (cat) {
        byCategory.set(cat, (byCategory.get(cat) ?? 0) + ms(events[i]!) - ms(events[i - 1]!));
        counts.set(cat, (counts.get(cat) ?? 0) + 1);
      }
      if (b === 'child-started') running++;
      const closed = events[i]!;
      if (
        closed.childWorkflowExecutionCompletedEventAttributes ||
        closed.childWorkflowExecutionFailedEventAttributes ||
        closed.childWorkflowExecutionCanceledEventAttributes ||
        closed.childWorkflowExecutionTerminatedEventAttributes ||
        closed.childWorkflowExecutionTimedOutEventAttributes
      )
        running--;
    }
  }
  return { workflows, byCategory, counts };
}

/** Per category over several runs: the median ms per run, and the median ms of one gap of that category. */
export interface MedianTimeline {
  perRun: Map<string, number>;
  each: Map<string, number>;
}

export function medianTimeline(timelines: Timeline[]): MedianTimeline {
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)]!;
  const cats = new Set(timelines.flatMap((t) => [...t.byCategory.keys()]));
  const perRun = new Map<string, number>();
  const each = new Map<string, number>();
  for (const c of cats) {
    perRun.set(c, median(timelines.map((t) => t.byCategory.get(c) ?? 0)));
    const runs = timelines.filter((t) => t.counts.get(c));
    each.set(c, median(runs.map((t) => t.byCategory.get(c)! / t.counts.get(c)!)));
  }
  return { perRun, each };
}

/**
 * Lines setting ours and the skeleton's side by side: ms per stage (a run's total over its stages), and ms each
 * time, largest difference per stage first; categories under 0.5 ms per stage on both sides are left out.
 */
export function timelineLines(ours: MedianTimeline, skeleton: MedianTimeline, stages: number): string[] {
  const cats = [...new Set([...ours.perRun.keys(), ...skeleton.perRun.keys()])];
  const per = (t: MedianTimeline, c: string) => (t.perRun.get(c) ?? 0) / stages;
  const each = (t: MedianTimeline, c: string) => {
    const x = t.each.get(c);
    return x === undefined ? '' : x.toFixed(1);
  };
  const rows = cats
    .filter((c) => per(ours, c) >= 0.5 || per(skeleton, c) >= 0.5)
    .sort((x, y) => per(ours, y) - per(skeleton, y) - (per(ours, x) - per(skeleton, x)));
  const sum = (t: MedianTimeline) => [...t.perRun.values()].reduce((s, x) => s + x, 0) / stages;
  const row = (c: string, a: string, b: string, d: string, e: string) =>
    `  ${c.padEnd(58)} ${a.padStart(6)} ${b.padStart(6)}   ${d.padStart(6)} ${e.padStart(6)}`;
  return [
    row('', 'ours', 'skel.', 'ours', 'skel.'),
    row('ms per stage | ms each', '', '', '', ''),
    ...rows.map((c) =>
      row(c, per(ours, c).toFixed(1), per(skeleton, c).toFixed(1), each(ours, c), each(skeleton, c)),
    ),
    row('all of the above and the rest', sum(ours).toFixed(1), sum(skeleton).toFixed(1), '', ''),
  ];
}
