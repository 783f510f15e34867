/**
 * Pipelines and schedules on top of DyffClient: one spec for the whole lifecycle, run now or on a Temporal
 * Schedule. Each scheduled run is a new pipeline run (new Evaluation and Report; Dataset and Model reused).
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { specHash } from './activities/lookups.js';
import { absoluteSource } from './client-create.js';
import { cancelIfRunning } from './client-runs.js';
import { newId } from './domain/ids.js';
import type { Manifest } from './domain/manifest.js';
import type { PipelineInput, PipelineSpec } from './domain/pipeline.js';
import { runStartMetadata } from './domain/run-metadata.js';
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
    ...(given.audits
      ? { audits: given.audits.map((a) => ({ ...a, procedure: absoluteSource(a.procedure, baseDir) })) }
      : {}),
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
      ...runStartMetadata(run),
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

  /** Request cancellation; false when the run has ended already, and there is nothing to cancel. */
  async cancel(id: string): Promise<boolean> {
    return cancelIfRunning(await this.handle(id));
  }
}
