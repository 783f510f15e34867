import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SignalDefinition } from '@temporalio/workflow';
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

  /** Grant free slots in arrival order, and tell each new holder and each newly queued waiter. */
  const settle = async () => {
    for (let head = waiters[0]; head && holders.length < head.limit; head = waiters[0]) {
      waiters.shift();
      holders.push(head.holder);
      regrant.add(head.holder);
    }
    for (const holder of [...regrant]) {
      regrant.delete(holder);
      // A holder that cannot be told no longer exists: its slot is free again.
      if (!(await tell(holder, slotGrantedSignal))) drop(holder);
    }
    for (const [i, w] of waiters.entries()) {
      if (w.told) continue;
      w.told = true;
      if (!(await tell(w.holder, slotQueuedSignal, { position: i + 1 }))) drop(w.holder);
    }
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
