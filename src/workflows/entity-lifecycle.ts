import type { ActivityOptions } from '@temporalio/workflow';
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities, RunStepInput, RunStepOutput } from '../activities/index.js';
import { NON_RETRYABLE } from '../domain/errors.js';
import { jobName } from '../domain/naming.js';
import type { Category } from '../domain/kinds.js';
import { DyffStatus } from '../domain/search-attributes.js';
import type { Reason, Status } from '../domain/status.js';
import type { StatusView } from './messages.js';
import { statusQuery } from './messages.js';

const retry: ActivityOptions['retry'] = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes: [...NON_RETRYABLE],
};

const state = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });
const steps = proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  // A dead worker is noticed within this long, and a new one adopts the running job.
  heartbeatTimeout: '10 seconds',
  // Heartbeats are throttled, so a cancel may reach the activity seconds later; the workflow stops the job itself
  // at once (cancelStep) instead of waiting for that.
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry,
});

/** A stage failed in a way the user must fix: the entity ends in its failure status with this reason. */
export class StageFailure extends Error {
  constructor(
    readonly reason: Reason,
    message: string,
  ) {
    super(message);
  }
}

const MAX_TRIES = 3;

/**
 * The shared shape of every entity workflow: status kept in the store, the UI's search attributes and the status
 * query kept current, steps run as jobs with a try counter, and the Error/Terminated endings.
 */
export class EntityLifecycle {
  readonly view: StatusView;
  private readonly tries = new Map<string, number>();

  constructor(
    readonly id: string,
    private readonly category: Category,
    private readonly failureStatus: Status,
  ) {
    this.view = { id, status: 'Created' };
    setHandler(statusQuery, () => this.view);
  }

  async transition(allowedFrom: Status[], to: Status, reason?: Reason, message?: string, details?: Record<string, unknown>) {
    await state.transition({ id: this.id, allowedFrom, to, reason, message, details });
    Object.assign(this.view, { status: to, reason, message });
    upsertSearchAttributes([{ key: DyffStatus, value: to }]);
  }

  /** Run one step as a job; a job lost without an exit code (not a step failure) is tried again under a new name. */
  async runStep(stage: string, args: string[], failReason: Reason, extra: Partial<RunStepInput> = {}): Promise<RunStepOutput> {
    for (;;) {
      const attempt = (this.tries.get(stage) ?? 0) + 1;
      this.tries.set(stage, attempt);
      Object.assign(this.view, { stage, jobName: jobName(this.id, stage, attempt) });
      const out = await steps.runStep({ entityId: this.id, category: this.category, stage, attempt, args, ...extra });
      if (out.phase === 'succeeded') return out;
      if (out.lost && attempt < MAX_TRIES) continue;
      const tail = out.logTail.length ? `\n--- last log lines ---\n${out.logTail.join('\n')}` : '';
      throw new StageFailure(failReason, `${stage} failed (${out.reason ?? 'unknown reason'})${tail}`);
    }
  }

  /**
   * Run the body; map failures to the entity's failure status and cancellation to Terminated. Cleanup of a running
   * job happens in a non-cancellable scope so that it runs even though the workflow is being cancelled.
   */
  async run<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (isCancellation(err)) {
        await CancellationScope.nonCancellable(async () => {
          if (this.view.jobName) await state.cancelStep({ jobName: this.view.jobName });
          await this.transition(['Created', 'Admitted'], 'Terminated', 'TerminateCommand', 'cancelled by request');
        });
        throw err;
      }
      const reason: Reason = err instanceof StageFailure ? err.reason : 'Interrupted';
      const message = err instanceof Error ? err.message : String(err);
      await this.transition(['Created', 'Admitted'], this.failureStatus, reason, message);
      throw ApplicationFailure.nonRetryable(message, reason);
    }
  }
}
