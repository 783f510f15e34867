import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  isCancellation,
  sleep,
} from '@temporalio/workflow';
import { endsWithWork, hasPatch } from './patch-baseline.js';
import type { Ending, FinishRequest } from '../domain/entity-endings.js';
import type { Entity } from '../domain/entity.js';
import type { NewEntity } from '../ports/entity-store.js';
import type { EntityKind } from '../domain/kinds.js';
import { CATEGORY_OF_KIND, JOB_KINDS } from '../domain/kinds.js';
import type { AdmitRequest, RunStepInput, RunStepOutput, SlotRequest } from '../activities/index.js';
import { state } from './activity-proxies.js';
import type { Reason, Status } from '../domain/status.js';
import type { StepInputs, StepName } from '../domain/step-catalogue.js';
import { checkDependency, isDone, Recheck, waitUntilReady } from './dependency-wait.js';
import { type EntityInput, StageFailure } from './entity-input.js';
import type { StatusView } from './messages.js';
import { announceRun, LEAN_METADATA_PATCH } from './run-metadata.js';
import { RunRecord } from './run-record.js';
import { StageRuns } from './stage-runs.js';

export type { EntityInput } from './entity-input.js';
export { StageFailure } from './entity-input.js';

/** Runs recorded before this patch closed the run in the same workflow task that recorded a cancel's ending. */
export const CANCEL_ENDING_PATCH = 'cancel-records-its-ending-first';
/**
 * Runs since this patch keep their bookkeeping to fewer local activities, each of which costs the run an activation
 * of its own: the entity is created, its dependencies read and the entity admitted in one (`admitEntity`), and the
 * step's output comes back with the step activity instead of being read after it.
 */
export const COMPACT_BOOKKEEPING_PATCH = 'bookkeeping-in-fewer-local-activities';

/**
 * The shared shape of every entity workflow, from its kind and input: status kept in the store and shown by the run
 * (RunRecord), admission after the dependencies, steps run as jobs with a try counter (StageRuns), and the endings
 * (Error for resource kinds, Failed for job kinds, Terminated on cancel).
 */
export class EntityLifecycle {
  readonly id: string;
  private readonly failureStatus: Status;
  private readonly recheck: Recheck;
  /** The run writes metadata only when it changes, bookkeeping by local activity: LEAN_METADATA_PATCH. */
  readonly lean: boolean;
  /** Create-check-admit in one local activity, step outputs returned by the step: COMPACT_BOOKKEEPING_PATCH. */
  readonly compact: boolean;
  /** The activity that does the entity's last work records its ending: ENDING_WITH_WORK_PATCH (compact runs). */
  readonly endsWithWork: boolean;
  private readonly record: RunRecord;
  private readonly stages: StageRuns;
  /**
   * While `admitEntity` runs: a failure of it ends the run as a failed create always did, without a transition of
   * its own (the id may hold another kind's entity, which must not be touched).
   */
  private admitting = false;

  constructor(
    readonly kind: EntityKind,
    /** The workflow input, kept so that a long wait can continue as new with it. */
    private readonly input: EntityInput<unknown>,
    /** The kind saves tasks by LEAN_METADATA_PATCH, which is worth the patch's own two events. */
    leanKind = false,
    /** The kind saves local activities by COMPACT_BOOKKEEPING_PATCH (`admit`, `runJob`'s output). */
    compactKind = false,
  ) {
    this.id = input.id;
    this.failureStatus = JOB_KINDS.has(kind) ? 'Failed' : 'Error';
    this.recheck = new Recheck();
    const lean = () => leanKind && hasPatch(LEAN_METADATA_PATCH);
    const tagged = announceRun({ ...input, kind }, lean);
    this.lean = tagged && lean();
    this.compact = compactKind && tagged && hasPatch(COMPACT_BOOKKEEPING_PATCH);
    this.endsWithWork = this.compact && endsWithWork();
    const { id, account, name, labels, annotations, spec } = input;
    const entity = { id, kind, account, name, labels: labels ?? {}, annotations: annotations ?? {}, spec };
    this.record = new RunRecord(id, entity, tagged, this.lean);
    this.stages = new StageRuns({ id, category: CATEGORY_OF_KIND[kind] }, this.record, {
      deadlineSeconds: (spec as { deadlineSeconds?: number } | undefined)?.deadlineSeconds,
      tagged,
      compact: this.compact,
    });
  }

  /** What the status query answers; a workflow sets its `stage` around work that is not a job. */
  get view(): StatusView {
    return this.record.view;
  }

  async transition(
    allowedFrom: Status[],
    to: Status,
    reason?: Reason,
    message?: string,
    details?: Record<string, unknown>,
  ) {
    const { retries } = this.stages;
    const withRetries = retries.length ? { ...details, retries } : details;
    await state.transition({ id: this.id, allowedFrom, to, reason, message, details: withRetries });
    this.record.transitioned(to, reason, message, withRetries);
  }

  /**
   * The entity's success. The activity that did its last work may have recorded it (`finished`, runs since
   * ENDING_WITH_WORK_PATCH); otherwise the workflow records `ending`, in a local activity.
   */
  async succeed(ending: Ending, finished?: Ending): Promise<void> {
    if (finished) this.record.transitioned(finished.to, undefined, finished.message, finished.details);
    else await this.transition(['Admitted'], ending.to, undefined, ending.message, ending.details);
  }

  /**
   * What an activity other than a step's (the dataset's check) is given to record the entity's ending with, the
   * tries retried so far included; undefined where the run records the ending itself.
   */
  finishRequest(): FinishRequest | undefined {
    return this.endsWithWork ? { allowedFrom: ['Admitted'], ...this.stages.retried() } : undefined;
  }

  /** Before a wait that is not a dependency's: a lean run writes its entity to the memo if it has not yet. */
  rememberBeforeWaiting(): void {
    this.record.rememberBeforeWaiting();
  }
  /** Record the entity (idempotent) from the workflow input. */
  async create(): Promise<void> {
    await state.createEntity(this.newEntity());
  }

  /** The entity as the workflow input describes it. */
  private newEntity(): NewEntity {
    const { account, name, labels, annotations, spec } = this.input;
    return { id: this.id, kind: this.kind, account, name, labels: { ...labels }, annotations, spec };
  }

  /**
   * Compact runs: record the entity, look at its dependencies and, with `admit`, move it to Admitted, in one local
   * activity when the dependencies are done already (the usual case in a pipeline). A missing or failed one ends
   * the entity as `requireReady` does; one still being made is waited for by `requireReady`, and the entity
   * admitted after. Returns the dependencies, in order.
   */
  async admit(requires: { id: string; missing: Reason }[], admit: boolean): Promise<Entity[]> {
    return (await this.admitReading(requires, admit)).deps;
  }

  /**
   * An evaluation's admission: with `quota`, the account's semaphore is asked for a slot in the same local activity
   * once every dependency is done (`requested`; otherwise the evaluation asks after waiting for them).
   */
  async admitAsking(requires: { id: string; missing: Reason }[], quota: SlotRequest | undefined) {
    const { deps, requested } = await this.admitReading(requires, false, quota ? { quota } : {});
    return { deps, requested: requested === true };
  }

  /**
   * A report's admission, its evaluation read with the entities it was made from (`lineage`, absent when the
   * evaluation was still being made: the report reads them itself).
   */
  async admitWithLineage(evaluation: { id: string; missing: Reason }) {
    const { deps, lineage } = await this.admitReading([evaluation], true, { lineage: true });
    return { evaluation: deps[0]!, lineage };
  }

  private async admitReading(
    requires: { id: string; missing: Reason }[],
    admit: boolean,
    extra: Pick<AdmitRequest, 'lineage' | 'quota'> = {},
  ) {
    this.admitting = true;
    const out = await state.admitEntity({
      entity: this.newEntity(),
      requires: requires.map((r) => r.id),
      admit,
      ...extra,
    });
    this.admitting = false;
    const deps: Entity[] = [];
    for (const [i, { id, missing }] of requires.entries()) {
      const dep = out.requires[i];
      checkDependency(dep, id, missing, (reason, message) => new StageFailure(reason, message));
      deps.push(isDone(dep) ? dep : await this.requireReady(id, missing));
    }
    if (out.admitted) this.record.transitioned('Admitted');
    else if (admit) await this.transition(['Created'], 'Admitted');
    return { deps, lineage: out.lineage, requested: out.requested };
  }

  /**
   * Wait until a dependency is Ready/Complete. Missing → `missing` reason; failed → FailedDependency. While it is
   * still being made, the entity stays Created with reason UnsatisfiedDependency and checks again with backoff;
   * a long wait continues as new with the input given to `create`, so its history stays bounded.
   */
  async requireReady(depId: string, missing: Reason): Promise<Entity> {
    return waitUntilReady({
      depId,
      missing,
      input: this.input,
      view: this.view,
      get: (id) => state.getEntity({ id }),
      fail: (reason, message) => new StageFailure(reason, message),
      recheck: this.recheck,
      onWaiting: () => this.record.showWaiting(),
    });
  }

  /**
   * Run a step of the catalogue as a job (StageRuns.runJob): retried while a new try can fix its ending; any other
   * failure ends the entity with `failReason`.
   */
  runJob<N extends StepName>(
    name: N,
    input: StepInputs[N],
    failReason: Reason,
    /** Compact runs: the object the step writes for the workflow, returned as the output's `output`. */
    output?: RunStepInput['output'],
    /**
     * The entity's last step: its activity records the ending its output makes, where the run lets it (and, for an
     * evaluation, gives back what the ending frees: `release`).
     */
    last: boolean | Pick<FinishRequest, 'release'> = false,
  ): Promise<RunStepOutput> {
    // StageRuns adds the tries retried by each try's start.
    const finish =
      last && this.endsWithWork
        ? { allowedFrom: ['Admitted' as const], ...(last === true ? {} : last) }
        : undefined;
    return this.stages.runJob(name, input, failReason, output, finish);
  }

  /**
   * Run a step that needs an inference session while it runs; once its job has succeeded, its activity stops the
   * session (`sessionStopped`), where the run lets it, so that the run need not stop it with a local activity.
   */
  runJobWithSession<N extends StepName>(
    name: N,
    input: StepInputs[N],
    failReason: Reason,
    session: string,
  ): Promise<RunStepOutput> {
    const then = this.endsWithWork ? { stopSession: session } : {};
    return this.stages.runJob(name, input, failReason, undefined, undefined, then);
  }

  /**
   * Run the body; map failures to the entity's failure status and cancellation to Terminated. Cleanup of a running
   * job happens in a non-cancellable scope so that it runs even though the workflow is being cancelled.
   */
  async run<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      // A long wait hands over to the next run of this workflow: the entity is not finished.
      if (err instanceof ContinueAsNew) throw err;
      if (this.admitting) throw err;
      if (isCancellation(err)) {
        await CancellationScope.nonCancellable(async () => {
          if (this.view.jobName) await state.cancelStep({ jobName: this.view.jobName });
          await this.transition(
            ['Created', 'Admitted'],
            'Terminated',
            'TerminateCommand',
            'cancelled by request',
          ).catch((failure: unknown) => {
            // The last activity recorded the entity's success as the cancel came: the work is done and kept.
            if (!this.endsWithWork || !endedAlready(failure)) throw failure;
          });
          // The job has just stopped, so the step activity's completion may reach the server while this workflow
          // task completes. A task that also closed the run would be refused (UnhandledCommand), and with it the
          // ending's writes: markers, DyffStatus and memo. A timer lets this task record them without closing it.
          if (hasPatch(CANCEL_ENDING_PATCH)) await sleep(1);
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

/** A refused transition of an entity that has reached Ready or Complete. */
function endedAlready(failure: unknown): boolean {
  const cause = failure instanceof ActivityFailure ? failure.cause : failure;
  if (!(cause instanceof ApplicationFailure) || cause.type !== 'InvalidTransition') return false;
  const current = (cause.details?.[0] as { current?: Status } | undefined)?.current;
  return current === 'Ready' || current === 'Complete';
}
