import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import type { JobEnding } from '../../domain/job-outcome.js';
import { failedExitOutcome } from '../../domain/job-outcome.js';
import type { JobStatus } from '../../ports/job-runner.js';
import { STEP_CONTAINER } from './kubernetes-job-manifest.js';

/** How a Job and its pods read as a JobStatus, and why a failed or stuck one failed. */

function condition(job: V1Job, type: string) {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

export function isFinished(job: V1Job): boolean {
  return !!(condition(job, 'Complete') ?? condition(job, 'Failed'));
}

export function toStatus(name: string, job: V1Job, pods: V1Pod[], cancelled: boolean): JobStatus {
  const pod = newestPod(pods);
  const term = terminated(pod);
  const base = { name, startTime: iso(job.status?.startTime ?? job.metadata?.creationTimestamp) };
  const complete = condition(job, 'Complete');
  if (complete) {
    return {
      ...base,
      phase: 'succeeded',
      outcome: 'succeeded',
      exitCode: 0,
      completionTime: iso(job.status?.completionTime ?? complete.lastTransitionTime),
    };
  }
  const failed = condition(job, 'Failed');
  if (failed) {
    const ending = cancelled
      ? { outcome: 'cancelled' as const, reason: 'cancelled' }
      : podEnding(job, failed.reason, failed.message, pod, term);
    return {
      ...base,
      phase: 'failed',
      exitCode: term?.exitCode,
      ...ending,
      completionTime: iso(failed.lastTransitionTime),
    };
  }
  if (job.metadata?.deletionTimestamp) {
    return {
      ...base,
      phase: 'failed',
      exitCode: term?.exitCode,
      outcome: cancelled ? 'cancelled' : 'lost',
      reason: cancelled ? 'cancelled' : 'deleted',
    };
  }
  const running = pods.some(
    (p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
  );
  return { ...base, phase: running ? 'running' : 'pending' };
}

interface Terminated {
  exitCode: number;
  reason?: string;
  message?: string;
}

function terminated(pod?: V1Pod): Terminated | undefined {
  const cs = pod?.status?.containerStatuses?.find((c) => c.name === STEP_CONTAINER);
  const t = cs?.state?.terminated ?? cs?.lastState?.terminated;
  return t ? { exitCode: t.exitCode, reason: t.reason, message: t.message } : undefined;
}

/*
 * Why a Job failed, typed: the Job's condition (DeadlineExceeded, or the podFailurePolicy rule that matched) and
 * its newest pod (OOMKilled, evicted, a DisruptionTarget condition from preemption or a drain, the exit code).
 */
export function podEnding(
  job: V1Job,
  condReason?: string,
  condMessage?: string,
  pod?: V1Pod,
  term?: Terminated,
): JobEnding {
  if (condReason === 'DeadlineExceeded') {
    const limit = job.spec?.activeDeadlineSeconds ?? '?';
    return {
      outcome: 'deadline',
      reason: `deadline exceeded: ran longer than activeDeadlineSeconds=${limit}`,
    };
  }
  if (term?.reason === 'OOMKilled') {
    return {
      outcome: 'oom',
      reason: `OOMKilled: the step used more memory than its limit (exit code ${term.exitCode})`,
    };
  }
  const disruption = pod?.status?.conditions?.find(
    (c) => c.type === 'DisruptionTarget' && c.status === 'True',
  );
  if (pod?.status?.reason === 'Evicted' || disruption?.reason === 'EvictionByEvictionAPI') {
    const why = pod?.status?.message ?? disruption?.message ?? '';
    return { outcome: 'evicted', reason: `evicted${why ? `: ${why}` : ''}` };
  }
  if (disruption) {
    const why = [disruption.reason, disruption.message].filter(Boolean).join(': ');
    return { outcome: 'preempted', reason: `preempted (the node went away)${why ? `: ${why}` : ''}` };
  }
  if (term && term.exitCode !== 0) {
    const outcome = failedExitOutcome(term.exitCode);
    const note =
      outcome === 'transient' ? ' (transient failure)' : outcome === 'signal' ? ' (killed by a signal)' : '';
    return { outcome, reason: `exit code ${term.exitCode}${note}` };
  }
  // Failed with no container ending: the pod was removed before its step could end.
  if (!term)
    return {
      outcome: 'lost',
      reason: `lost: ${[condReason, condMessage].filter(Boolean).join(': ') || 'no pod ending recorded'}`,
    };
  return { outcome: 'failed', reason: [condReason, condMessage].filter(Boolean).join(': ') || 'failed' };
}

/** Why a pod is still Pending, in the words of the scheduler or the kubelet. */
export function pendingCause(pod: V1Pod): string {
  const sched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (sched) return `${sched.reason ?? 'Unschedulable'}: ${sched.message ?? ''}`.trim();
  for (const cs of pod.status?.containerStatuses ?? []) {
    const w = cs.state?.waiting;
    if (w?.reason && w.reason !== 'ContainerCreating') return `${w.reason}: ${w.message ?? ''}`.trim();
  }
  return pod.spec?.nodeName ? 'containers not started' : 'not scheduled';
}

export function withEvents(reason: string, events: string[]): string {
  const fresh = events.filter((e) => !reason.includes(e));
  return fresh.length ? `${reason}; events: ${fresh.join(' | ')}` : reason;
}

export function newestPod(pods: V1Pod[]): V1Pod | undefined {
  return [...pods].sort(
    (a, b) => time(b.metadata?.creationTimestamp) - time(a.metadata?.creationTimestamp),
  )[0];
}

export function byEventTime(a: CoreV1Event, b: CoreV1Event): number {
  return (
    time(a.lastTimestamp ?? a.eventTime ?? a.metadata.creationTimestamp) -
    time(b.lastTimestamp ?? b.eventTime ?? b.metadata.creationTimestamp)
  );
}

/** Typed responses carry Dates, raw watch events carry strings; both normalise here. */
function time(v: Date | string | undefined): number {
  return v ? new Date(v).getTime() : 0;
}

function iso(v: Date | string | undefined): string | undefined {
  return v ? new Date(v).toISOString() : undefined;
}
