import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
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

/** Thrown when a dependency is missing or failed; the caller maps it to the entity's failure status. */
export type DependencyFailure = (reason: Reason, message: string) => Error;

/**
 * Check a dependency until it is Ready/Complete, with backoff. Each check costs a few history events, so a wait
 * of days would outgrow the history limit: after `pollsPerRun` checks the workflow continues as new with the same
 * input (its creation and the transitions before the wait are idempotent) and resumes the backoff where it was.
 */
export async function waitUntilReady<I extends { waitPolicy?: WaitPolicy }>(opts: {
  depId: string;
  missing: Reason;
  input: I;
  view: StatusView;
  get: (id: string) => Promise<Entity | undefined>;
  fail: DependencyFailure;
}): Promise<Entity> {
  const { depId, view, input } = opts;
  const policy = input.waitPolicy ?? {};
  const maxMs = policy.maxMs ?? 30_000;
  const pollsPerRun = policy.pollsPerRun ?? 100;
  const eventsPerRun = policy.eventsPerRun ?? 1000;
  let delayMs = policy.resumeMs ?? policy.initialMs ?? 500;
  // Whoever knows that the dependency changed (an operator, a script, a test) can make the next check happen now.
  let nudged = false;
  let checks = 0;
  setHandler(
    recheckDependencyUpdate,
    async () => {
      const after = checks;
      nudged = true;
      await condition(() => checks > after);
      return checks;
    },
    { validator: () => void 0 },
  );
  for (let polls = 0; ; polls++) {
    nudged = false;
    const dep = await opts.get(depId);
    checks++;
    if (!dep) throw opts.fail(opts.missing, `dependency ${depId} does not exist`);
    if (dep.status === 'Ready' || dep.status === 'Complete') {
      if (view.reason === 'UnsatisfiedDependency') view.reason = undefined;
      return dep;
    }
    if (isTerminal(dep.status)) {
      throw opts.fail(
        'FailedDependency',
        `dependency ${dep.kind} ${depId} is ${dep.status}${dep.reason ? ` (${dep.reason})` : ''}`,
      );
    }
    view.reason = 'UnsatisfiedDependency';
    view.message = `waiting for ${dep.kind} ${depId} (${dep.status})`;
    const info = workflowInfo();
    const due = polls >= pollsPerRun || info.historyLength >= eventsPerRun || info.continueAsNewSuggested;
    if (due && patched('continue-as-new-while-waiting-for-dependency')) {
      await condition(allHandlersFinished);
      const next: WaitPolicy = { ...policy, resumeMs: delayMs, polled: (policy.polled ?? 0) + polls };
      await continueAsNew<(i: I) => Promise<unknown>>({ ...input, waitPolicy: next });
    }
    await condition(() => nudged, delayMs);
    delayMs = Math.min(delayMs * 2, maxMs);
  }
}
