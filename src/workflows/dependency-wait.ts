import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { hasPatch } from './patch-baseline.js';
import type { Entity } from '../domain/entity.js';
import { isTerminal } from '../domain/status.js';
import type { Reason } from '../domain/status.js';
import type { StatusView } from './messages.js';
import { recheckDependencyUpdate } from './messages.js';

/**
 * How a workflow polls for a dependency. Every field has a production default; tests shorten them to compress
 * days of waiting into seconds.
 */
export interface WaitPolicy {
  /** First delay between two checks. @default 500 */
  initialMs?: number;
  /** The delay doubles up to this. @default 30000 */
  maxMs?: number;
  /** Checks per run before the workflow continues as new, which keeps its history bounded. @default 100 */
  pollsPerRun?: number;
  /** Events in the run's history that also make it continue as new (recheck signals add events). @default 1000 */
  eventsPerRun?: number;
  /** Carried across continue-as-new: the delay reached so far, and the checks made in earlier runs. */
  resumeMs?: number;
  polled?: number;
}

/**
 * Runs since this patch answer a `recheckDependency` update that finds no wait in progress at once. Before it, such
 * an update waited for the run's next wait to check, and in a run that never waits (its dependencies were done at
 * its admission, or it has none) for the run's end.
 */
export const RECHECK_OUTSIDE_A_WAIT_PATCH = 'recheck-answers-outside-a-wait';

/**
 * The `recheckDependency` update's side of a wait: registered when the workflow starts (an update that arrives
 * before a handler exists is rejected), it makes the current check happen at once and answers once it has, with
 * the number of checks so far. Outside a wait it answers at once: a wait that begins later checks first thing.
 */
export class Recheck {
  nudged = false;
  checks = 0;
  /** A wait has ended and no other is in progress (runs before RECHECK_OUTSIDE_A_WAIT_PATCH). */
  idle = false;
  /** A wait is in progress. */
  waiting = false;

  constructor() {
    setHandler(recheckDependencyUpdate, async () => {
      const after = this.checks;
      this.nudged = true;
      // Asked only outside a wait, as the patch changes only what happens there: a replay of a run recorded before
      // it, whose updates came during waits, meets no marker it did not record.
      if (!this.waiting && patched(RECHECK_OUTSIDE_A_WAIT_PATCH)) return this.checks;
      await condition(() => this.checks > after || this.idle);
      return this.checks;
    });
  }
}

/** Thrown when a dependency is missing or failed; the caller maps it to the entity's failure status. */
export type DependencyFailure = (reason: Reason, message: string) => Error;

export interface DependencyWait<I> {
  depId: string;
  /** The reason when the dependency does not exist. */
  missing: Reason;
  /** The workflow input, to continue as new with. */
  input: I;
  view: StatusView;
  get: (id: string) => Promise<Entity | undefined>;
  fail: DependencyFailure;
  recheck: Recheck;
  /** Called when what the entity waits for changes (the view's reason and message were just set). */
  onWaiting?: () => void;
}

/**
 * One look at a dependency: throws (by `fail`) when it does not exist or has failed; otherwise it is done
 * (`isDone`) or still being made.
 */
export function checkDependency(
  dep: Entity | null | undefined,
  depId: string,
  missing: Reason,
  fail: DependencyFailure,
): asserts dep is Entity {
  if (!dep) throw fail(missing, `dependency ${depId} does not exist`);
  if (!isDone(dep) && isTerminal(dep.status)) {
    throw fail(
      'FailedDependency',
      `dependency ${dep.kind} ${depId} is ${dep.status}${dep.reason ? ` (${dep.reason})` : ''}`,
    );
  }
}

/** A dependency that is Ready or Complete. */
export const isDone = (dep: Entity) => dep.status === 'Ready' || dep.status === 'Complete';

/**
 * Check a dependency until it is Ready/Complete, with backoff. Each check costs a few history events, so a wait
 * of days would outgrow the history limit: after `pollsPerRun` checks the workflow continues as new with the same
 * input (its creation and the transitions before the wait are idempotent) and resumes the backoff where it was.
 */
export async function waitUntilReady<I extends { waitPolicy?: WaitPolicy }>(
  opts: DependencyWait<I>,
): Promise<Entity> {
  const { recheck } = opts;
  recheck.idle = false;
  recheck.waiting = true;
  try {
    return await checkUntilReady(opts);
  } finally {
    recheck.idle = true;
    recheck.waiting = false;
  }
}

async function checkUntilReady<I extends { waitPolicy?: WaitPolicy }>(
  opts: DependencyWait<I>,
): Promise<Entity> {
  const { recheck } = opts;
  const { depId, view, input } = opts;
  const policy = input.waitPolicy ?? {};
  const maxMs = policy.maxMs ?? 30_000;
  const pollsPerRun = policy.pollsPerRun ?? 100;
  const eventsPerRun = policy.eventsPerRun ?? 1000;
  let delayMs = policy.resumeMs ?? policy.initialMs ?? 500;
  for (let polls = 0; ; polls++) {
    recheck.nudged = false;
    const dep = await opts.get(depId);
    recheck.checks++;
    checkDependency(dep, depId, opts.missing, opts.fail);
    if (isDone(dep)) {
      if (view.reason === 'UnsatisfiedDependency') view.reason = undefined;
      return dep;
    }
    const message = `waiting for ${dep.kind} ${depId} (${dep.status})`;
    if (view.reason !== 'UnsatisfiedDependency' || view.message !== message) {
      view.reason = 'UnsatisfiedDependency';
      view.message = message;
      opts.onWaiting?.();
    }
    const info = workflowInfo();
    const due = polls >= pollsPerRun || info.historyLength >= eventsPerRun || info.continueAsNewSuggested;
    if (due && hasPatch('continue-as-new-while-waiting-for-dependency')) {
      await condition(allHandlersFinished);
      const next: WaitPolicy = { ...policy, resumeMs: delayMs, polled: (policy.polled ?? 0) + polls };
      await continueAsNew<(i: I) => Promise<unknown>>({ ...input, waitPolicy: next });
    }
    await condition(() => recheck.nudged, delayMs);
    delayMs = Math.min(delayMs * 2, maxMs);
  }
}
