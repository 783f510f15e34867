/**
 * Pipelines on a Temporal Schedule. Each scheduled run is a new pipeline run (new Evaluation and Report; Dataset
 * and Model reused), found by the schedule's id (`DyffScheduleId`) and by the pipeline id it makes for itself.
 */
import type { Client, ScheduleDescription, ScheduleSummary } from '@temporalio/client';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { pipelineInput } from './client-pipelines.js';
import { quoted } from './client-runs.js';
import { DyffError, ErrorType } from './domain/errors.js';
import type { Entity } from './domain/entity.js';
import { PIPELINE_LABEL, SCHEDULE_LABEL } from './domain/labels.js';
import type { Manifest } from './domain/manifest.js';
import { runDetails, startMemo } from './domain/run-metadata.js';
import type { PipelineSpec } from './domain/pipeline.js';
import { DyffAccount, DyffEntityId, DyffKind, DyffScheduleId } from './domain/search-attributes.js';
import { isTerminal } from './domain/status.js';
import { PipelineWorkflow } from './workflows/definitions.js';

/** What a scheduled action does when the schedule's previous run is still going. */
export const OVERLAP_POLICIES = {
  /** Start nothing (the default): a slow run is not piled on. */
  skip: ScheduleOverlapPolicy.SKIP,
  /** Start one more once the running one ends; further ones are skipped. */
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  /** Cancel the running one (its children are cancelled, its session stopped) and start anew. */
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  /** Runs overlap freely. */
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
} as const;
export type OverlapPolicy = keyof typeof OVERLAP_POLICIES;

export function parseOverlap(value: string, field = '--overlap'): OverlapPolicy {
  if (value in OVERLAP_POLICIES) return value as OverlapPolicy;
  throw new DyffError(
    ErrorType.InvalidSpec,
    `${field}: expected one of ${Object.keys(OVERLAP_POLICIES).join(', ')}, got ${value}`,
  );
}

export interface ScheduleOptions {
  /** e.g. '1h', '15m', '30s' */
  every: string;
  paused?: boolean;
  baseDir?: string;
  /** @default 'skip' */
  overlap?: OverlapPolicy;
}

/** One run of a schedule, with its report's headline metric once the report is Complete. */
export interface ScheduledRun {
  pipelineId?: string;
  workflowId: string;
  startTime: Date;
  /** Temporal's status of the pipeline run: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, … */
  status: string;
  reportId?: string;
  /** The report's first metric, as the trend in the report shows it. */
  metric?: { name: string; value: number };
  /** Why a report that ended without completing did so: its message's first line (which stage failed). */
  reportProblem?: string;
}

/** Reads entities wherever the client has them (the entity store, or the runs' memos). */
export interface EntityLister {
  list(query: { kind: 'Report'; labels: Record<string, string>; limit: number }): Promise<Entity[]>;
}

export class Schedules {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  async create(
    scheduleId: string,
    manifest: Manifest<PipelineSpec, 'Pipeline'>,
    opts: ScheduleOptions,
  ): Promise<void> {
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
        memo: startMemo(),
      },
      policies: { overlap: OVERLAP_POLICIES[opts.overlap ?? 'skip'], catchupWindow: '1 day' },
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

  /** Start a run now, whatever the overlap policy and even while paused. */
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

  /**
   * The schedule's runs, newest first, each with its report's headline metric: the pipeline runs from Temporal's
   * visibility (by `DyffScheduleId`), the reports from `entities` (a DyffClient reads its store or the runs).
   */
  async history(scheduleId: string, entities: EntityLister, limit = 20): Promise<ScheduledRun[]> {
    const reports = new Map<string, Entity>();
    const ofSchedule = await entities.list({
      kind: 'Report',
      labels: { [SCHEDULE_LABEL]: scheduleId },
      limit: 1000,
    });
    for (const r of ofSchedule) if (r.labels[PIPELINE_LABEL]) reports.set(r.labels[PIPELINE_LABEL], r);
    const runs: ScheduledRun[] = [];
    const query = `DyffKind="Pipeline" AND DyffScheduleId=${quoted(scheduleId)}`;
    for await (const run of this.temporal.workflow.list({ query })) {
      const pipelineId = run.typedSearchAttributes.get(DyffEntityId);
      const report = pipelineId ? reports.get(pipelineId) : undefined;
      const metrics = Object.entries((report?.details?.metrics ?? {}) as Record<string, number>);
      runs.push({
        pipelineId,
        workflowId: run.workflowId,
        startTime: run.startTime,
        status: run.status.name,
        reportId: report?.id,
        ...(report && report.status !== 'Complete' && isTerminal(report.status) && report.message
          ? { reportProblem: `${report.status}: ${report.message.split('\n')[0]}` }
          : {}),
        metric:
          report?.status === 'Complete' && metrics[0]
            ? { name: metrics[0][0], value: metrics[0][1] }
            : undefined,
      });
      if (runs.length >= 1000) break;
    }
    return runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime()).slice(0, limit);
  }
}
