import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { quotaMessages, quotaRequests } from './activity-proxies.js';
import type { SlotRequest } from '../activities/index.js';
import type { EntityLifecycle } from './entity-lifecycle.js';
import {
  releaseSlotSignal,
  slotGrantedSignal,
  slotQueuedSignal,
  stageWaitingSignal,
} from './quota-messages.js';
import { quotaWorkflowId } from './quota-messages.js';

/**
 * An evaluation's slot in its account's quota: asked for before the entity goes Admitted, given back after it
 * ends. While queued the entity stays Created with reason QuotaLimit, and a parent pipeline is told so.
 */
export class QuotaSlot {
  private granted = false;
  private queuedAt?: number;
  private requested = false;

  constructor(
    private readonly account: string,
    private readonly limit?: number,
    /** Request and release by local activity (runs recorded since the lean patch). */
    private readonly lean = false,
  ) {
    setHandler(slotGrantedSignal, () => void (this.granted = true));
    setHandler(slotQueuedSignal, ({ position }) => void (this.queuedAt = position));
  }

  /** The request for this evaluation's slot, as the semaphore takes it. */
  get request(): SlotRequest {
    return { ...this.holding, limit: this.limit };
  }

  /** This evaluation's hold on the semaphore, as the activity that records its ending gives it back. */
  get holding(): { account: string; holder: string } {
    return { account: this.account, holder: workflowInfo().workflowId };
  }

  /** The activity that recorded the evaluation's ending gave the slot back: `release` has nothing left to do. */
  givenBack(): void {
    this.requested = false;
  }

  /** The request was made with the evaluation's admission (`admitAsking`): acquire waits for the answer only. */
  asked(): void {
    this.requested = true;
  }

  async acquire(life: EntityLifecycle): Promise<void> {
    // Unless it was asked with the admission.
    if (!this.requested) {
      this.requested = true;
      const { request } = this;
      if (this.lean) await quotaMessages.requestQuotaSlot(request);
      else await quotaRequests.requestQuotaSlot(request);
    }
    life.rememberBeforeWaiting();
    await condition(() => this.granted || this.queuedAt !== undefined);
    if (this.granted) return;
    const message = `waiting for one of the account's ${this.limit ?? 'default'} evaluation slots (position ${this.queuedAt} in the queue)`;
    await life.transition(['Created'], 'Created', 'QuotaLimit', message);
    await this.tellParent('QuotaLimit');
    await condition(() => this.granted);
    await this.tellParent(undefined);
  }

  /** Give the slot back (or leave the queue); runs on every ending, cancel included. */
  async release(): Promise<void> {
    if (!this.requested) return;
    const { holder } = this.holding;
    await CancellationScope.nonCancellable(async () => {
      // The semaphore may be gone (terminated by an operator): then nobody holds anything, and one that cannot
      // be reached takes the slot back at its next check of its holders.
      if (this.lean) return quotaMessages.releaseQuotaSlot(this.holding).catch(() => undefined);
      await getExternalWorkflowHandle(quotaWorkflowId(this.account, workflowInfo().taskQueue))
        .signal(releaseSlotSignal, { holder })
        .catch(() => undefined);
    });
  }

  private async tellParent(reason: 'QuotaLimit' | undefined): Promise<void> {
    const parent = workflowInfo().parent;
    if (!parent) return;
    await getExternalWorkflowHandle(parent.workflowId)
      .signal(stageWaitingSignal, { stage: 'evaluation', reason })
      .catch(() => undefined);
  }
}
