import { DyffError } from './errors.js';
import type { EntityKind } from './kinds.js';
import { JOB_KINDS } from './kinds.js';

export const STATUSES = [
  'Created',
  'Schedulable',
  'Admitted',
  'Terminated',
  'Deleted',
  'Ready',
  'Complete',
  'Error',
  'Failed',
] as const;
export type Status = (typeof STATUSES)[number];

/** Reasons as Dyff names them, plus the step-failure reasons of this project. */
export const REASONS = [
  'QuotaLimit',
  'UnsatisfiedDependency',
  'FailedDependency',
  'TerminateCommand',
  'DeleteCommand',
  'Expired',
  'Interrupted',
  'Incomplete',
  'Unverified',
  'Restarted',
  'DataSourceMissing',
  'WaitingForDataSource',
  'FetchFailed',
  'IngestFailed',
  'VerifyFailed',
  'InvalidSpec',
  'BuildFailed',
  'NoSuchModel',
  'WaitingForModel',
  'NoSuchEvaluation',
  'WaitingForEvaluation',
  'ReportFailed',
  'ProcedureFailed',
  'AuditFailed',
] as const;
export type Reason = (typeof REASONS)[number];

const TERMINAL: ReadonlySet<Status> = new Set([
  'Terminated',
  'Deleted',
  'Ready',
  'Complete',
  'Error',
  'Failed',
]);

/** Allowed transitions: from → the statuses it may move to. */
export const TRANSITIONS: Readonly<Record<Status, readonly Status[]>> = {
  Created: ['Schedulable', 'Admitted', 'Terminated', 'Deleted', 'Error', 'Failed'],
  Schedulable: ['Admitted', 'Terminated', 'Deleted', 'Error', 'Failed'],
  Admitted: ['Ready', 'Complete', 'Error', 'Failed', 'Terminated', 'Deleted'],
  Terminated: ['Deleted'],
  Ready: ['Deleted'],
  Complete: ['Deleted'],
  Error: ['Deleted'],
  Failed: ['Deleted'],
  Deleted: [],
};

export function isTerminal(status: Status): boolean {
  return TERMINAL.has(status);
}

export function canTransition(from: Status, to: Status): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The success and failure statuses of a kind: Ready/Error for resources, Complete/Failed for jobs. */
export function outcomesOf(kind: EntityKind): { success: Status; failure: Status } {
  return JOB_KINDS.has(kind)
    ? { success: 'Complete', failure: 'Failed' }
    : { success: 'Ready', failure: 'Error' };
}

/** What an entity store knows of an entity when a transition is asked of it. */
export interface TransitionSubject {
  status: Status;
  reason?: Reason;
  message?: string;
}

/** The part of a transition request the decision depends on (the store's request carries id and details too). */
export interface TransitionAsk {
  /** Statuses the entity may be in for the transition to apply. */
  allowedFrom: readonly Status[];
  to: Status;
  reason?: Reason;
  message?: string;
}

/**
 * What a store does with a transition request. `apply` writes status, reason, message and details and records the
 * change (`restate`: the status stays and only the reason or message changes, a waiting entity saying why it
 * waits). `noop` writes nothing: `repeat` is a retry of a transition that already applied (the entity is in the
 * target status, which `allowedFrom` does not list), `unchanged` a restatement that says nothing new. `refuse` is
 * an InvalidTransition: `terminal` when the entity has ended, `not-allowed-from` when the caller did not expect
 * its status, `not-in-lifecycle` when the status table forbids the move although the caller allowed it.
 */
export type TransitionDecision =
  | { kind: 'apply'; from: Status; to: Status; restate: boolean }
  | { kind: 'noop'; why: 'repeat' | 'unchanged' }
  | { kind: 'refuse'; why: 'terminal' | 'not-allowed-from' | 'not-in-lifecycle'; message: string };

/**
 * The one rule both entity stores follow, decided inside their transaction on the status they just read, so the
 * SQLite and Datastore stores cannot drift apart on retries, restatements and refusals.
 */
export function decideTransition(current: TransitionSubject, ask: TransitionAsk): TransitionDecision {
  const from = current.status;
  const listed = ask.allowedFrom.includes(from);
  if (from === ask.to) {
    if (!listed) return { kind: 'noop', why: 'repeat' };
    const same = current.reason === ask.reason && current.message === ask.message;
    return same ? { kind: 'noop', why: 'unchanged' } : { kind: 'apply', from, to: ask.to, restate: true };
  }
  if (listed && canTransition(from, ask.to)) return { kind: 'apply', from, to: ask.to, restate: false };
  const allowed = ask.allowedFrom.join(', ') || 'nothing';
  const message = `is ${from}: cannot move to ${ask.to} (allowed from ${allowed})`;
  if (isTerminal(from) && !canTransition(from, ask.to))
    return { kind: 'refuse', why: 'terminal', message: `${message}; ${from} is terminal` };
  if (!listed) return { kind: 'refuse', why: 'not-allowed-from', message };
  return { kind: 'refuse', why: 'not-in-lifecycle', message: `${message}; the status table forbids it` };
}

/** The InvalidTransition error both stores throw for a refused transition of entity `id`. */
export function refusal(
  id: string,
  from: Status,
  to: Status,
  decision: Extract<TransitionDecision, { kind: 'refuse' }>,
): DyffError {
  return new DyffError('InvalidTransition', `entity ${id} ${decision.message}`, {
    id,
    current: from,
    to,
    why: decision.why,
  });
}
