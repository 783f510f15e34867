/**
 * Pipelines and schedules on top of DyffClient: one spec for the whole lifecycle, run now or on a Temporal
 * Schedule. Each scheduled run is a new pipeline run (new Evaluation and Report; Dataset and Model reused).
 */
import type { Client, ScheduleDescription, ScheduleSummary, WorkflowHandle } from '@temporalio/client';
import { ScheduleOverlapPolicy, WorkflowNotFoundError } from '@temporalio/client';
import { specHash } from './activities/lookups.js';
import { absoluteSource } from './client.js';
import { newId } from './domain/ids.js';
import type { Manifest } from './domain/manifest.js';
import type { PipelineInput, PipelineSpec } from './domain/pipeline.js';
import { runDetails, runSearchAttributes, runSummary } from './domain/run-metadata.js';
import { DyffAccount, DyffKind, DyffScheduleId, DyffStatus } from './domain/search-attributes.js';
import type { PipelineView } from './workflows/definitions.js';
import { pipelineQuery, PipelineWorkflow, startWorkflow } from './workflows/definitions.js';

export interface PipelineOptions {
  force?: boolean;
  baseDir?: string;
}

type PipelineManifest = Manifest<PipelineSpec, 'Pipeline'>;

/** The workflow input for a pipeline manifest: local paths made absolute, and the reuse hashes computed. */
export function pipelineInput(
  manifest: PipelineManifest,
  opts: PipelineOptions & { id: string; scheduleId?: string },
): PipelineInput {
  const baseDir = opts.baseDir ?? process.cwd();
  const given = manifest.spec;
  const spec: PipelineSpec = {
    ...given,
    dataset: { ...given.dataset, source: absoluteSource(given.dataset.source, baseDir) },
    model: { ...given.model, source: absoluteSource(given.model.source, baseDir) },
  };
  return {
    id: opts.id,
    account: manifest.account,
    name: manifest.metadata.name,
    labels: manifest.metadata.labels,
    spec,
    hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) },
    force: opts.force,
    scheduleId: opts.scheduleId,
  };
}

export class Pipelines {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  async start(
    manifest: PipelineManifest,
    opts: PipelineOptions = {},
  ): Promise<{ id: string; workflowId: string }> {
    const id = newId();
    const workflowId = `pipeline-${id}`;
    const input = pipelineInput(manifest, { ...opts, id });
    const run = { ...input, kind: 'Pipeline' as const };
    await startWorkflow(this.temporal, PipelineWorkflow, {
      workflowId,
      taskQueue: this.taskQueue,
      args: [input],
      typedSearchAttributes: [...runSearchAttributes(run), { key: DyffStatus, value: 'Created' }],
      staticSummary: runSummary(run),
      staticDetails: runDetails(run),
    });
    return { id, workflowId };
  }

  async get(id: string): Promise<PipelineView> {
    return (await this.handle(id)).query(pipelineQuery);
  }

  /**
   * The run with this pipeline id: `pipeline-<id>` when it was started directly; a scheduled run's workflow id is
   * the schedule's plus a time, so it is found by the id the run set on itself (`DyffEntityId`).
   */
  private async handle(id: string): Promise<WorkflowHandle> {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new Error(`pipeline id ${JSON.stringify(id)}: not an id`);
    const direct = this.temporal.workflow.getHandle(`pipeline-${id}`);
    try {
      await direct.describe();
      return direct;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    const query = `DyffKind="Pipeline" AND DyffEntityId="${id}"`;
    for await (const run of this.temporal.workflow.list({ query }))
      return this.temporal.workflow.getHandle(run.workflowId, run.runId);
    throw new WorkflowNotFoundError(`no pipeline run with id ${id}`, `pipeline-${id}`, undefined);
  }

  /** Wait for the pipeline to end; resolves with its final view whether it completed or failed. */
  async wait(id: string): Promise<PipelineView> {
    const handle = await this.handle(id);
    try {
      return (await handle.result()) as PipelineView;
    } catch {
      return handle.query(pipelineQuery);
    }
  }

  async cancel(id: string): Promise<void> {
    await (await this.handle(id)).cancel();
  }
}

export interface ScheduleOptions {
  /** e.g. '1h', '15m', '30s' */
  every: string;
  paused?: boolean;
  baseDir?: string;
}

export class Schedules {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  async create(scheduleId: string, manifest: PipelineManifest, opts: ScheduleOptions): Promise<void> {
    // The pipeline id of a scheduled run is made inside the workflow (each run differs); the input carries none.
    const input = pipelineInput(manifest, { id: '', scheduleId, baseDir: opts.baseDir });
    await this.temporal.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: opts.every as `${number}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: PipelineWorkflow.name,
        workflowId: `pipeline-${scheduleId}`,
        taskQueue: this.taskQueue,
        args: [input],
        typedSearchAttributes: [
          { key: DyffKind, value: 'Pipeline' },
          { key: DyffAccount, value: manifest.account },
          { key: DyffScheduleId, value: scheduleId },
        ],
        staticSummary: `Pipeline ${manifest.metadata.name ?? scheduleId} (${manifest.account}), scheduled by ${scheduleId}`,
        staticDetails: runDetails({ ...input, kind: 'Pipeline', id: '(a new id per run)', scheduleId }),
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
      state: { paused: opts.paused ?? false, note: `pipeline ${manifest.metadata.name ?? scheduleId}` },
      memo: { kind: 'DyffPipelineSchedule' },
    });
  }

  async list(): Promise<ScheduleSummary[]> {
    const out: ScheduleSummary[] = [];
    for await (const s of this.temporal.schedule.list())
      if (s.memo?.kind === 'DyffPipelineSchedule') out.push(s);
    return out;
  }

  describe(scheduleId: string): Promise<ScheduleDescription> {
    return this.temporal.schedule.getHandle(scheduleId).describe();
  }

  pause(scheduleId: string, note?: string): Promise<void> {
    return this.temporal.schedule.getHandle(scheduleId).pause(note);
  }

  unpause(scheduleId: string, note?: string): Promise<void> {
    return this.temporal.schedule.getHandle(scheduleId).unpause(note);
  }

  trigger(scheduleId: string): Promise<void> {
    return this.temporal.schedule.getHandle(scheduleId).trigger(ScheduleOverlapPolicy.ALLOW_ALL);
  }

  /** Run the actions the schedule would have taken between two times (e.g. while it was paused). */
  backfill(scheduleId: string, start: Date, end: Date): Promise<void> {
    return this.temporal.schedule
      .getHandle(scheduleId)
      .backfill({ start, end, overlap: ScheduleOverlapPolicy.ALLOW_ALL });
  }

  delete(scheduleId: string): Promise<void> {
    return this.temporal.schedule.getHandle(scheduleId).delete();
  }
}
