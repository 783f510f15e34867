import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  isCancellation,
  patched,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Entity } from '../domain/entity.js';
import type { NewEntity } from '../ports/entity-store.js';
import type { EntityKind } from '../domain/kinds.js';
import { CATEGORY_OF_KIND, JOB_KINDS } from '../domain/kinds.js';
import type { RunStepInput, RunStepOutput } from '../activities/index.js';
import { state, steps } from './activity-proxies.js';
import { jobName } from '../domain/naming.js';
import type { Category } from '../domain/kinds.js';
import { DyffStatus } from '../domain/search-attributes.js';
import type { Reason, Status } from '../domain/status.js';
import type { StepEntry, StepInputs, StepName } from '../domain/step-catalogue.js';
import { STEP_CATALOGUE, stepArgs } from '../domain/step-catalogue.js';
import { checkDependency, isDone, Recheck, waitUntilReady } from './dependency-wait.js';
import { type EntityInput, StageFailure } from './entity-input.js';
import type { StatusView } from './messages.js';
import { statusQuery } from './messages.js';
import type { EntityMemo } from '../domain/run-metadata.js';
import { announceRun, LEAN_METADATA_PATCH, rememberState, showProgress } from './run-metadata.js';

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
/** Runs recorded before this patch kept a dependency wait out of their memo. */
const WAITING_MEMO_PATCH = 'waiting-for-a-dependency-is-remembered';

/** The activity that starts (or adopts) a step's job and waits for its ending; registered as `runStep`. */
const runStepJob = steps.runStep;

/** Tries per stage when the activity's output does not carry the worker's setting (older histories). */
const MAX_TRIES = 3;
/** Retries by typed outcome, with a backoff sleep between tries: a new command sequence. */
const RETRY_PATCH = 'step-retry-by-outcome';

/**
 * The shared shape of every entity workflow, from its kind and input: status kept in the store, the run's search
 * attributes, details and status query kept current, steps run as jobs with a try counter, and the endings
 * (Error for resource kinds, Failed for job kinds, Terminated on cancel).
 */
export class EntityLifecycle {
  readonly id: string;
  readonly view: StatusView;
  private readonly category: Category;
  private readonly failureStatus: Status;
  private readonly tries = new Map<string, number>();
  /** Each retried try's ending, kept in the entity's details with its final status. */
  private readonly retries: { stage: string; try: number; outcome?: string; reason?: string }[] = [];
  private readonly recheck: Recheck;
  /** The spec's `deadlineSeconds`: each try of each step gets it instead of the worker's default. */
  readonly stepDeadlineSeconds?: number;
  /** The run sets its own search attributes and activity summaries (false for runs recorded before that). */
  private readonly tagged: boolean;
  /** The run writes metadata only when it changes, bookkeeping by local activity: LEAN_METADATA_PATCH. */
  readonly lean: boolean;
  /** Create-check-admit in one local activity, step outputs returned by the step: COMPACT_BOOKKEEPING_PATCH. */
  readonly compact: boolean;
  /** The entity's memo, until it is written with the entity's first state (lean runs). */
  private pendingEntity?: EntityMemo;
  /** The status the run's DyffStatus search attribute holds. */
  private searchStatus = workflowInfo().typedSearchAttributes.get(DyffStatus) ?? 'Created';
  /** The entity's details as the store merges them, kept for the run's memo. */
  private details?: Record<string, unknown>;
  /**
   * While `admitEntity` runs: a failure of it ends the run as a failed create always did, without a transition of
   * its own (the id may hold another kind's entity, which must not be touched).
   */
  private admitting = false;
  /** When the entity last changed status (as the run saw it). */
  private transitionedAt = new Date().toISOString();

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
    this.category = CATEGORY_OF_KIND[kind];
    this.failureStatus = JOB_KINDS.has(kind) ? 'Failed' : 'Error';
    this.stepDeadlineSeconds = (input.spec as { deadlineSeconds?: number } | undefined)?.deadlineSeconds;
    this.view = { id: this.id, status: 'Created' };
    setHandler(statusQuery, () => this.view);
    this.recheck = new Recheck();
    const lean = () => leanKind && patched(LEAN_METADATA_PATCH);
    this.tagged = announceRun({ ...input, kind }, lean);
    this.lean = this.tagged && lean();
    this.compact = compactKind && this.tagged && patched(COMPACT_BOOKKEEPING_PATCH);
    if (this.tagged) {
      const { id, account, name, labels, annotations, spec } = input;
      const entity = { id, kind, account, name, labels: labels ?? {}, annotations: annotations ?? {}, spec };
      // A lean run writes the entity with its first state: the same workflow task, unless it waits first.
      if (this.lean) this.pendingEntity = entity;
      else rememberState({ status: 'Created', lastTransitionTime: this.transitionedAt }, entity);
    }
    this.showView();
  }

  /** The run's current details in the UI: status, stage, job and message. */
  private showView(): void {
    const v = this.view;
    showProgress(`**${v.status}**${v.reason ? ` (${v.reason})` : ''}`, [
      v.stage ? `stage \`${v.stage}\`${v.jobName ? ` · job \`${v.jobName}\`` : ''}` : undefined,
      v.message?.split('\n')[0],
    ]);
  }

  async transition(
    allowedFrom: Status[],
    to: Status,
    reason?: Reason,
    message?: string,
    details?: Record<string, unknown>,
  ) {
    const withRetries = this.retries.length ? { ...details, retries: this.retries } : details;
    await state.transition({ id: this.id, allowedFrom, to, reason, message, details: withRetries });
    this.recordTransition(to, reason, message, withRetries);
  }

  /** What a transition changes in the run (view, DyffStatus, memo), once the store has it. */
  private recordTransition(
    to: Status,
    reason?: Reason,
    message?: string,
    withRetries?: Record<string, unknown>,
  ) {
    Object.assign(this.view, { status: to, reason, message });
    // A lean run writes the status only when it changes (QuotaLimit keeps an entity Created).
    if (!this.lean || to !== this.searchStatus) upsertSearchAttributes([{ key: DyffStatus, value: to }]);
    this.searchStatus = to;
    if (this.tagged) {
      // Details merge across transitions, as in the entity store.
      if (withRetries) this.details = { ...this.details, ...withRetries };
      this.transitionedAt = new Date().toISOString();
      this.writeMemo();
    }
    this.showView();
  }

  /** The entity's state (and, the first time in a lean run, the entity) in the run's memo. */
  private writeMemo(): void {
    const { status, reason, message } = this.view;
    const entity = this.pendingEntity;
    this.pendingEntity = undefined;
    rememberState(
      { status, reason, message, details: this.details, lastTransitionTime: this.transitionedAt },
      entity,
    );
  }

  /** Before a wait that is not a dependency's: a lean run writes its entity to the memo if it has not yet. */
  rememberBeforeWaiting(): void {
    if (this.pendingEntity) this.writeMemo();
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
    this.admitting = true;
    const out = await state.admitEntity({
      entity: this.newEntity(),
      requires: requires.map((r) => r.id),
      admit,
    });
    this.admitting = false;
    const deps: Entity[] = [];
    for (const [i, { id, missing }] of requires.entries()) {
      const dep = out.requires[i];
      checkDependency(dep, id, missing, (reason, message) => new StageFailure(reason, message));
      deps.push(isDone(dep) ? dep : await this.requireReady(id, missing));
    }
    if (out.admitted) this.recordTransition('Admitted');
    else if (admit) await this.transition(['Created'], 'Admitted');
    return deps;
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
      onWaiting: () => this.showWaiting(),
    });
  }

  /**
   * While it waits for a dependency, the entity stays Created with reason UnsatisfiedDependency: shown in the run's
   * current details, and kept in its memo (for a client that reads Temporal only) since the patch.
   */
  private showWaiting(): void {
    this.showView();
    if (!this.tagged || !patched(WAITING_MEMO_PATCH)) return;
    this.writeMemo();
  }

  /**
   * Run a step of the catalogue as a job, with the arguments, identity and secrets its entry derives from the
   * typed input. A failure the user must fix ends the entity with `failReason`.
   */
  async runJob<N extends StepName>(
    name: N,
    input: StepInputs[N],
    failReason: Reason,
    /** Compact runs: the object the step writes for the workflow, returned as the output's `output`. */
    output?: RunStepInput['output'],
  ): Promise<RunStepOutput> {
    const entry: StepEntry<StepInputs[N]> = STEP_CATALOGUE[name];
    const secrets = entry.secrets?.(input) ?? [];
    // Only what the spec sets: without it the activity input stays as recorded before spec resources.
    const resources = entry.specResources?.(input);
    return this.runStageWithRetries(entry.stage, stepArgs(name, input), failReason, {
      serviceAccount: entry.identity,
      ...(secrets.length ? { secrets } : {}),
      ...(resources ? { resources } : {}),
      ...(output && this.compact ? { output } : {}),
    });
  }

  /**
   * Run one step as a job. An ending a new try can fix (lost, killed by a signal, OOM, evicted, preempted, past
   * its deadline, or a failure the step declared transient) is tried again under a new job name after a backoff,
   * up to the worker's `retries.maxTriesPerStage`; any other failure ends the entity at once.
   */
  private async runStageWithRetries(
    stage: string,
    args: string[],
    failReason: Reason,
    extra: Partial<RunStepInput> = {},
  ): Promise<RunStepOutput> {
    const earlier: string[] = [];
    for (;;) {
      const attempt = (this.tries.get(stage) ?? 0) + 1;
      this.tries.set(stage, attempt);
      const job = jobName(this.id, stage, attempt);
      Object.assign(this.view, { stage, jobName: job });
      this.showView();
      const stepInput: RunStepInput = {
        entityId: this.id,
        category: this.category,
        stage,
        attempt,
        args,
        // Only when the spec sets one: without it the activity input stays as recorded before the override.
        ...(this.stepDeadlineSeconds ? { activeDeadlineSeconds: this.stepDeadlineSeconds } : {}),
        ...extra,
      };
      // The activity's line in the UI names the step program and its job: `fetch-data job fetch-<id>-1`.
      const out = this.tagged
        ? await runStepJob.executeWithOptions({ summary: `${args[0] ?? stage} job ${job}` }, [stepInput])
        : await runStepJob(stepInput);
      if (out.phase === 'succeeded') return out;
      const why = `try ${attempt}: ${out.reason ?? 'unknown reason'}`;
      // Histories recorded before typed outcomes carry only `lost`.
      const retryable = out.retryable ?? out.lost;
      if (retryable && attempt < (out.maxTries ?? MAX_TRIES) && patched(RETRY_PATCH)) {
        earlier.push(why);
        this.retries.push({ stage, try: attempt, outcome: out.outcome, reason: out.reason });
        const backoffMs = (out.backoffSeconds ?? 0) * 1000 * 2 ** (earlier.length - 1);
        this.view.message = `${stage}: ${why}; try ${attempt + 1} in ${Math.round(backoffMs / 1000)} s`;
        this.showView();
        if (backoffMs > 0) await sleep(backoffMs);
        continue;
      }
      if (out.lost && attempt < MAX_TRIES) continue; // the behaviour before RETRY_PATCH, for replay
      const tail = out.logTail.length ? `\n--- last log lines ---\n${out.logTail.join('\n')}` : '';
      const history = earlier.length ? ` after ${earlier.length + 1} tries (${earlier.join('; ')})` : '';
      throw new StageFailure(
        failReason,
        `${stage} failed (${out.reason ?? 'unknown reason'})${history}${tail}`,
      );
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
          );
          // The job has just stopped, so the step activity's completion may reach the server while this workflow
          // task completes. A task that also closed the run would be refused (UnhandledCommand), and with it the
          // ending's writes: markers, DyffStatus and memo. A timer lets this task record them without closing it.
          if (patched(CANCEL_ENDING_PATCH)) await sleep(1);
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
