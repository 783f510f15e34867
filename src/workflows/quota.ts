import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SignalDefinition } from '@temporalio/workflow';
import { hasPatch } from './patch-baseline.js';
import { quotaChecks } from './activity-proxies.js';
import {
  acquireSlotSignal,
  releaseSlotSignal,
  slotGrantedSignal,
  slotQueuedSignal,
} from './quota-messages.js';

interface Waiter {
  holder: string;
  limit: number;
  told?: boolean;
}

/** What the semaphore carries across continue-as-new. */
export interface QuotaState {
  account: string;
  holders?: string[];
  waiters?: Waiter[];
  /** How often the holders' workflows are checked for a run that was terminated or lost. @default 60000 */
  checkEveryMs?: number;
}

/**
 * Runs recorded before this patch told every waiter not granted in one pass that it was queued, even one whose
 * request came in while the pass was telling an earlier holder of its slot, with slots free: that evaluation
 * showed QuotaLimit, and told its pipeline so, until the next pass granted it. Since the patch a waiter is told
 * it is queued only when no slot is free for it at that moment.
 */
export const QUEUED_ONLY_WHEN_FULL_PATCH = 'quota-queued-only-when-no-slot-is-free';

/** Signals handled per run before continuing as new: each costs a few events. */
const SIGNALS_PER_RUN = 500;

/**
 * A per-account semaphore (workflow id `quota-<account>`): at most `limit` holders at once, the rest queued in
 * arrival order. A slot held by a workflow that is no longer running (terminated, timed out) is taken back on
 * the next check.
 */
export async function quotaWorkflow(state: QuotaState): Promise<void> {
  const holders = [...(state.holders ?? [])];
  const waiters = [...(state.waiters ?? [])];
  const checkEveryMs = state.checkEveryMs ?? 60_000;
  const regrant = new Set<string>();
  let handled = 0;
  let changed = true;
  setHandler(acquireSlotSignal, ({ holder, limit }) => {
    handled++;
    changed = true;
    if (holders.includes(holder)) regrant.add(holder);
    else if (!waiters.some((w) => w.holder === holder)) waiters.push({ holder, limit });
  });
  const drop = (holder: string) => {
    changed = true;
    holders.splice(0, holders.length, ...holders.filter((h) => h !== holder));
    waiters.splice(0, waiters.length, ...waiters.filter((w) => w.holder !== holder));
  };
  setHandler(releaseSlotSignal, ({ holder }) => {
    handled++;
    drop(holder);
  });

  const queuedOnlyWhenFull = hasPatch(QUEUED_ONLY_WHEN_FULL_PATCH);
  /** Free slots go to the waiters in arrival order. */
  const grantFree = () => {
    for (let head = waiters[0]; head && holders.length < head.limit; head = waiters[0]) {
      waiters.shift();
      holders.push(head.holder);
      regrant.add(head.holder);
    }
  };
  /** Tell one holder of its slot; one that cannot be told no longer exists, and its slot is free again. */
  const tellGranted = async (holder: string) => {
    regrant.delete(holder);
    if (!(await tell(holder, slotGrantedSignal))) drop(holder);
  };
  /** Tell one waiter its place; one that cannot be told no longer exists. */
  const tellQueued = async (w: Waiter, position: number) => {
    w.told = true;
    if (!(await tell(w.holder, slotQueuedSignal, { position }))) drop(w.holder);
  };

  /** Grant free slots in arrival order, and tell each new holder and each newly queued waiter. */
  const settle = async () => {
    if (queuedOnlyWhenFull) {
      // Tells wait for the server, and signals handled meanwhile change the queue: look again after each round.
      // The holders of one round are told together (one workflow task), then the waiters still without a slot.
      for (;;) {
        grantFree();
        if (regrant.size) {
          await Promise.all([...regrant].map(tellGranted));
          continue;
        }
        const untold = waiters.flatMap((w, i) => (w.told ? [] : [{ w, position: i + 1 }]));
        if (!untold.length) return;
        await Promise.all(untold.map(({ w, position }) => tellQueued(w, position)));
      }
    }
    grantFree();
    for (const holder of [...regrant]) await tellGranted(holder);
    for (const [i, w] of waiters.entries()) if (!w.told) await tellQueued(w, i + 1);
  };

  for (;;) {
    do {
      changed = false;
      await settle();
    } while (changed);
    if (handled >= SIGNALS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof quotaWorkflow>({ ...state, holders, waiters });
    }
    const busy = holders.length + waiters.length > 0;
    const signalled = await condition(() => changed, busy ? checkEveryMs : undefined);
    if (!signalled && busy) {
      const ids = [...holders, ...waiters.map((w) => w.holder)];
      const { closed } = await quotaChecks.closedWorkflows({ workflowIds: ids });
      closed.forEach(drop);
    }
  }
}

async function tell<A extends unknown[]>(
  holder: string,
  signal: SignalDefinition<A>,
  ...args: A
): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(holder).signal(signal, ...args);
    return true;
  } catch {
    return false;
  }
}
