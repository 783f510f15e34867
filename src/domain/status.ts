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
