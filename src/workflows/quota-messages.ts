import { defineSignal } from '@temporalio/workflow';

/** The per-account quota semaphore's messages, shared by the semaphore, its holders and the activity that asks. */
/** Ask for a slot; `holder` is the asking workflow's id, which the semaphore signals back. Idempotent. */
export const acquireSlotSignal = defineSignal<[{ holder: string; limit: number }]>('acquireSlot');
/** Give a slot back, or stop waiting for one. Idempotent. */
export const releaseSlotSignal = defineSignal<[{ holder: string }]>('releaseSlot');
/** To a holder: the slot is yours. */
export const slotGrantedSignal = defineSignal('slotGranted');
/** To a waiter: every slot is taken; you are queued. */
export const slotQueuedSignal = defineSignal<[{ position: number }]>('slotQueued');

/**
 * `quota-<account>` on the default task queue. Each other task queue (a second installation on the namespace, a
 * test file) has semaphores of its own, run by its own workers.
 */
export const quotaWorkflowId = (account: string, taskQueue: string) =>
  taskQueue === 'dyff' ? `quota-${account}` : `quota-${account}-${taskQueue}`;

/** To a parent pipeline: a stage waits (for quota), or no longer does. */
export const stageWaitingSignal =
  defineSignal<[{ stage: 'evaluation'; reason?: 'QuotaLimit' }]>('stageWaiting');
