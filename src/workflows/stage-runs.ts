import { sleep } from '@temporalio/workflow';
import { hasPatch } from './patch-baseline.js';
import type { RunStepInput, RunStepOutput } from '../activities/index.js';
import type { Category } from '../domain/kinds.js';
import { jobName } from '../domain/naming.js';
import type { FinishRequest } from '../domain/entity-endings.js';
import type { Reason } from '../domain/status.js';
import type { StepEntry, StepInputs, StepName } from '../domain/step-catalogue.js';
import { STEP_CATALOGUE, stepArgs } from '../domain/step-catalogue.js';
import { steps } from './activity-proxies.js';
import { StageFailure } from './entity-input.js';
import type { RunRecord } from './run-record.js';

/** The activity that starts (or adopts) a step's job and waits for its ending; registered as `runStep`. */
const runStepJob = steps.runStep;

/** Tries per stage when the activity's output does not carry the worker's setting (older histories). */
const MAX_TRIES = 3;
/** Retries by typed outcome, with a backoff sleep between tries: a new command sequence. */
const RETRY_PATCH = 'step-retry-by-outcome';

/** A try that ended in a way a new try could fix, kept in the entity's details with its final status. */
export interface RetriedTry {
  stage: string;
  try: number;
  outcome?: string;
  reason?: string;
}

/**
 * An entity's steps, each run as a job through the step activity, with a try counter per stage: the job of each try
 * is named from (entity, stage, try), so that a new attempt of the activity adopts it.
 */
export class StageRuns {
  private readonly tries = new Map<string, number>();
  /** Each retried try's ending. */
  readonly retries: RetriedTry[] = [];

  constructor(
    private readonly entity: { id: string; category: Category },
    private readonly record: RunRecord,
    private readonly opts: {
      /** The spec's `deadlineSeconds`: each try of each step gets it instead of the worker's default. */
      deadlineSeconds?: number;
      /** The run names each step activity's line in the UI (false for runs recorded before that). */
      tagged: boolean;
      /** COMPACT_BOOKKEEPING_PATCH: the step activity returns the step's output document. */
      compact: boolean;
    },
  ) {}

  /** The tries retried so far, as a request to record the entity's ending carries them (none: nothing). */
  retried(): { retries?: RetriedTry[] } {
    return this.retries.length ? { retries: [...this.retries] } : {};
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
    /** With `output`: the step activity records the entity's ending (`finished`), with the tries retried by then. */
    finish?: Omit<FinishRequest, 'retries'>,
    /** What the step activity stops once the job has succeeded (`sessionStopped`). */
    then: Pick<RunStepInput, 'stopSession'> = {},
  ): Promise<RunStepOutput> {
    const entry: StepEntry<StepInputs[N]> = STEP_CATALOGUE[name];
    const secrets = entry.secrets?.(input) ?? [];
    // Only what the spec sets: without it the activity input stays as recorded before spec resources.
    const resources = entry.specResources?.(input);
    return this.runStageWithRetries(
      entry.stage,
      stepArgs(name, input),
      failReason,
      {
        serviceAccount: entry.identity,
        ...(secrets.length ? { secrets } : {}),
        ...(resources ? { resources } : {}),
        ...(output && this.opts.compact ? { output } : {}),
        ...then,
      },
      output && this.opts.compact ? finish : undefined,
    );
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
    finish?: Omit<FinishRequest, 'retries'>,
  ): Promise<RunStepOutput> {
    const { view } = this.record;
    const { deadlineSeconds } = this.opts;
    const earlier: string[] = [];
    for (;;) {
      const attempt = (this.tries.get(stage) ?? 0) + 1;
      this.tries.set(stage, attempt);
      const job = jobName(this.entity.id, stage, attempt);
      Object.assign(view, { stage, jobName: job });
      this.record.show();
      const stepInput: RunStepInput = {
        entityId: this.entity.id,
        category: this.entity.category,
        stage,
        attempt,
        args,
        // Only when the spec sets one: without it the activity input stays as recorded before the override.
        ...(deadlineSeconds ? { activeDeadlineSeconds: deadlineSeconds } : {}),
        ...extra,
        // The tries retried so far go into the ending's details, as the workflow's own transition puts them.
        ...(finish ? { finish: { ...finish, ...this.retried() } } : {}),
      };
      // The activity's line in the UI names the step program and its job: `fetch-data job fetch-<id>-1`.
      const out = this.opts.tagged
        ? await runStepJob.executeWithOptions({ summary: `${args[0] ?? stage} job ${job}` }, [stepInput])
        : await runStepJob(stepInput);
      if (out.phase === 'succeeded') return out;
      const why = `try ${attempt}: ${out.reason ?? 'unknown reason'}`;
      // Histories recorded before typed outcomes carry only `lost`.
      const retryable = out.retryable ?? out.lost;
      if (retryable && attempt < (out.maxTries ?? MAX_TRIES) && hasPatch(RETRY_PATCH)) {
        earlier.push(why);
        this.retries.push({ stage, try: attempt, outcome: out.outcome, reason: out.reason });
        const backoffMs = (out.backoffSeconds ?? 0) * 1000 * 2 ** (earlier.length - 1);
        view.message = `${stage}: ${why}; try ${attempt + 1} in ${Math.round(backoffMs / 1000)} s`;
        this.record.show();
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
}
