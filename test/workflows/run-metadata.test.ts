import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipelines } from '../../src/client-pipelines.js';
import { Schedules } from '../../src/client-schedules.js';
import { resolveTemporalCli } from '../../src/dev/temporal-cli.js';
import { newId } from '../../src/domain/ids.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';
import type { PipelineView } from '../../src/workflows/index.js';
import { stepEffects } from '../support/step-effects.js';
import { startScriptedWorker, useOrchestrationEnv } from '../support/orchestration.js';
import { cliEnv, DYFFCTL, until } from '../support/worker-process.js';

/*
 * Every run sets its own search attributes, so that the plain Temporal CLI finds it by kind, account, pipeline
 * and schedule however it was started: by the client, by a schedule, or by `temporal workflow start` with a bare
 * JSON input. Real dev server, real worker; the steps are scripted (their jobs are another test's subject).
 */

const env = useOrchestrationEnv();
const KINDS = ['Dataset', 'Model', 'InferenceService', 'Evaluation', 'Report'] as const;
const suffix = newId().slice(0, 8);
const accounts = { client: `md-client-${suffix}`, cli: `md-cli-${suffix}`, schedule: `md-sched-${suffix}` };

let cli: string;
let stopWorker: () => Promise<void>;
const pipelineIds: Record<keyof typeof accounts, string> = { client: '', cli: '', schedule: '' };
const scheduleId = `md-${suffix}`;

const manifestText = (account: string) => `
kind: Pipeline
account: ${account}
metadata: { name: tagged }
spec:
  dataset: { source: { kind: url, url: "https://example.invalid/d.csv" }, ingest: { format: csv } }
  model: { source: { kind: urls, urls: ["https://example.invalid/m.json"] } }
  service: { runner: { kind: http, endpoint: "https://example.invalid" } }
  report: { rubric: classification.accuracy }
`;
const manifest = (account: string) => parsePipelineManifest(manifestText(account));

/** The manifest for `account` in a file of the test's data home. */
async function manifestFile(account: string): Promise<string> {
  const file = join(env.config.dataHome, `${account}.yaml`);
  await writeFile(file, manifestText(account));
  return file;
}

/** The pipeline id a run made for itself, once it has. */
const pipelineIdOf = (workflowId: string) =>
  until(`${workflowId} to know its pipeline id`, async () => {
    const v = await env.client.workflow.getHandle(workflowId).query<PipelineView>('pipeline');
    return v.id || false;
  });

/** The plain Temporal CLI against the test's dev server. */
async function temporalCli(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    cli,
    [...args, '--address', env.config.temporal.address, '--namespace', env.config.temporal.namespace],
    { maxBuffer: 16 << 20 },
  );
  return stdout;
}

/** `temporal workflow list --query …`: the workflow ids it prints. */
async function listed(query: string): Promise<string[]> {
  const out = await temporalCli('workflow', 'list', '--query', query, '--output', 'json');
  const rows = out.trim() ? (JSON.parse(out) as { execution: { workflowId: string } }[]) : [];
  return rows.map((r) => r.execution.workflowId);
}

/**
 * The ids once the query lists `n` runs. Visibility is written a moment after each change (a finished run's last
 * status too), so a count is awaited, not read once; more than `n` fails at once.
 */
async function listedN(query: string, n: number): Promise<string[]> {
  return until(`${n} runs for ${query}`, async () => {
    const ids = await listed(query);
    if (ids.length > n) throw new Error(`${query}: ${ids.length} runs, expected ${n}: ${ids.join(', ')}`);
    return ids.length === n && ids;
  });
}

beforeAll(async () => {
  cli = (await resolveTemporalCli())!;
  expect(cli, 'the Temporal CLI (scripts/install-temporal-cli.sh)').toBeTruthy();
  ({ stop: stopWorker } = await startScriptedWorker(env, () => ({
    outcome: 'succeed',
    effect: stepEffects(env.objects),
  })));
  const pipelines = new Pipelines(env.client, env.config.temporal.taskQueue);
  const schedules = new Schedules(env.client, env.config.temporal.taskQueue);

  // 1. a script with DyffClient: the README's examples/start-pipeline.ts, which waits for the run itself
  const script = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      resolve(import.meta.dirname, '../../examples/start-pipeline.ts'),
      await manifestFile(accounts.client),
    ],
    { env: cliEnv(env.config) },
  );
  pipelineIds.client = /^pipeline (\w+) started/m.exec(script.stdout)![1]!;
  expect(script.stdout).toContain(`pipeline ${pipelineIds.client}: Complete`);

  // 2. the plain Temporal CLI, with the input `dyffctl pipeline input` prints and no search attributes of its own;
  //    the run makes its own pipeline id
  const inputFile = join(env.config.dataHome, 'pipeline-input.json');
  const printed = await promisify(execFile)(
    process.execPath,
    [DYFFCTL, 'pipeline', 'input', '-f', await manifestFile(accounts.cli)],
    { env: cliEnv(env.config) },
  );
  await writeFile(inputFile, printed.stdout);
  await temporalCli(
    'workflow',
    'start',
    '--type',
    'pipelineWorkflow',
    '--task-queue',
    env.config.temporal.taskQueue,
    '--workflow-id',
    `manual-${suffix}`,
    '--input-file',
    inputFile,
  );
  pipelineIds.cli = await pipelineIdOf(`manual-${suffix}`);

  // 3. a schedule, triggered once; the run's pipeline id is made inside the workflow
  await schedules.create(scheduleId, manifest(accounts.schedule), { every: '24h' });
  await schedules.trigger(scheduleId);
  const scheduled = await until('the scheduled run', async () => {
    for await (const w of env.client.workflow.list({ query: `TemporalScheduledById="${scheduleId}"` }))
      return w;
    return false;
  });
  pipelineIds.schedule = await pipelineIdOf(scheduled.workflowId);
  // Found by the id it set on itself, once visibility has it.
  await until('the scheduled run found by its pipeline id', () =>
    pipelines.get(pipelineIds.schedule).then(
      () => true,
      () => false,
    ),
  );

  for (const [how, id] of Object.entries(pipelineIds)) {
    const final = await pipelines.wait(id);
    expect(final.status, `the pipeline started by ${how}`).toBe('Complete');
  }
  await schedules.delete(scheduleId);
}, 180_000);

afterAll(async () => {
  await stopWorker?.();
});

describe('search attributes set by the runs themselves', () => {
  it.each(Object.keys(accounts) as (keyof typeof accounts)[])(
    'started by %s: `temporal workflow list` finds the pipeline and each of its five entity runs by kind, account and pipeline',
    async (how) => {
      const pipelineId = pipelineIds[how];
      const account = accounts[how];
      await listedN(`DyffAccount="${account}"`, 6);
      await listedN(`DyffKind="Pipeline" AND DyffEntityId="${pipelineId}"`, 1);
      for (const kind of KINDS) {
        const runs = await listedN(`DyffKind="${kind}" AND DyffPipelineId="${pipelineId}"`, 1);
        expect(runs[0]!.startsWith(`${kind.toLowerCase()}-`), runs[0]).toBe(true);
        expect(await listedN(`DyffKind="${kind}" AND DyffAccount="${account}"`, 1)).toEqual(runs);
      }
      // Each entity run is linked to the pipeline's Dataset and Model, and to the schedule that made it.
      const [datasetRun] = await listed(`DyffKind="Dataset" AND DyffPipelineId="${pipelineId}"`);
      const datasetId = datasetRun!.replace(/^dataset-/, '');
      await listedN(`DyffDatasetId="${datasetId}" AND DyffKind IN ("Evaluation", "Report")`, 2);
      if (how === 'schedule') await listedN(`DyffScheduleId="${scheduleId}"`, 6);
      else
        expect(await listed(`DyffScheduleId="${scheduleId}" AND DyffPipelineId="${pipelineId}"`)).toEqual([]);
      // Resource kinds end Ready, job kinds and the pipeline Complete.
      await listedN(`DyffStatus IN ("Ready", "Complete") AND DyffPipelineId="${pipelineId}"`, 6);
    },
  );

  it('each run says what it is: a summary and details, current details, and each step activity names its job', async () => {
    const pipelineId = pipelineIds.cli;
    const [datasetRun] = await listedN(`DyffKind="Dataset" AND DyffPipelineId="${pipelineId}"`, 1);
    const handle = env.client.workflow.getHandle(datasetRun!);
    const described = await handle.describe();
    expect(await described.staticSummary()).toBe(`Dataset tagged (${accounts.cli})`);
    const details = (await described.staticDetails()) ?? '';
    expect(details).toContain(`pipeline: \`${pipelineId}\``);
    expect(details).toContain('source.kind: url');
    expect(details).toContain('ingest.format: csv');

    const meta = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails.split('\n')[0]).toBe('**Ready**');

    const summaries = await activitySummaries(handle);
    const id = datasetRun!.replace(/^dataset-/, '');
    expect(summaries).toEqual([`fetch-data job fetch-${id}-1`, `ingest-dataset job ingest-${id}-1`]);

    const pipeline = env.client.workflow.getHandle(`manual-${suffix}`);
    const pipelineMeta = await pipeline.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(pipelineMeta.currentDetails).toContain('**Complete**');
    expect(pipelineMeta.currentDetails).toMatch(/^- report: Done `[0-9a-f]{32}`$/m);
  });

  it('a scheduled run is found by the pipeline id it made for itself: get and wait', async () => {
    const pipelines = new Pipelines(env.client, env.config.temporal.taskQueue);
    const view = await pipelines.get(pipelineIds.schedule);
    expect(view.id).toBe(pipelineIds.schedule);
    expect((await pipelines.wait(pipelineIds.schedule)).status).toBe('Complete');
    await expect(pipelines.get('0'.repeat(32))).rejects.toThrow(/no pipeline run with id 0{32}/);
  });
});

/** The summaries of the run's `runStep` activities, in the order they were scheduled. */
async function activitySummaries(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  const out: string[] = [];
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name !== 'runStep') continue;
    const payload = (event as temporal.api.history.v1.IHistoryEvent).userMetadata?.summary;
    out.push(payload ? defaultPayloadConverter.fromPayload<string>(payload) : '(none)');
  }
  return out;
}
