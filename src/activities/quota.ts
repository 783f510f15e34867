import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { acquireSlotSignal, quotaWorkflowId, releaseSlotSignal } from '../workflows/quota-messages.js';
import { QuotaWorkflow } from '../workflows/definitions.js';
import { startMemo } from '../domain/run-metadata.js';

export interface QuotaOptions {
  /** Evaluations an account may have Admitted at once when the evaluation names no quota. @default 4 */
  defaultLimit?: number;
  /** How often the semaphore checks that its holders still run. @default 60000 */
  checkEveryMs?: number;
}

/** The per-account semaphore: asking for a slot, and telling which of its holders are no longer running. */
export const createQuotaActivities = (opts: QuotaOptions = {}) => ({
  /**
   * Ask the account's semaphore for a slot, starting it if it does not run yet (a workflow cannot signal-with-start
   * by itself). The answer comes back as a signal to the holder.
   */
  async requestQuotaSlot(input: { account: string; holder: string; limit?: number }): Promise<void> {
    const ctx = Context.current();
    await ctx.client.workflow.signalWithStart(QuotaWorkflow.name, {
      workflowId: quotaWorkflowId(input.account, ctx.info.taskQueue),
      taskQueue: ctx.info.taskQueue,
      args: [{ account: input.account, checkEveryMs: opts.checkEveryMs }],
      signal: acquireSlotSignal,
      signalArgs: [{ holder: input.holder, limit: input.limit ?? opts.defaultLimit ?? 4 }],
      memo: startMemo(),
    });
  },

  /**
   * Give a slot back, or leave the queue (idempotent). Run as a local activity, it costs the holder no workflow
   * task of its own, where a signal from the workflow costs one for its acknowledgement. A semaphore that no
   * longer runs (terminated by an operator) holds nothing.
   */
  async releaseQuotaSlot(input: { account: string; holder: string }): Promise<void> {
    const ctx = Context.current();
    try {
      await ctx.client.workflow
        .getHandle(quotaWorkflowId(input.account, ctx.info.taskQueue))
        .signal(releaseSlotSignal, { holder: input.holder });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  },

  /** The ids among these whose workflow is closed (completed, failed, terminated, timed out) or unknown. */
  async closedWorkflows(input: { workflowIds: string[] }): Promise<{ closed: string[] }> {
    const client = Context.current().client;
    const closed: string[] = [];
    for (const id of input.workflowIds) {
      try {
        const d = await client.workflow.getHandle(id).describe();
        if (d.status.name !== 'RUNNING') closed.push(id);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) closed.push(id);
        else throw err;
      }
    }
    return { closed };
  },
});
