/**
 * Records one history per workflow type into test/histories/, for the replay test: run after a deliberate change to
 * a workflow's command sequence (guarded by a patch), never to paper over an accidental one. Histories of earlier
 * shapes stay beside them under another name (`dataset-v1.pb`), so replay keeps checking the patched() paths.
 * Every run is started as the client starts it, at the current patch level (`runStartMetadata`, `startMemo`).
 *
 *   npx tsx scripts/record-histories.ts
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { specHash } from '../src/activities/lookups.js';
import { createActivities } from '../src/activities/index.js';
import { SqliteEntityStore } from '../src/adapters/entity-store/sqlite.js';
import { FilesystemObjectStore } from '../src/adapters/object-store/filesystem.js';
import { startDevServer } from '../src/dev/dev-server.js';
import { newId } from '../src/domain/ids.js';
import { runStartMetadata, startMemo } from '../src/domain/run-metadata.js';
import { BenchmarkSpec } from '../src/domain/benchmark.js';
import { installRuntime } from '../src/worker.js';
import { scriptedPipelineSpec } from '../bench/lifecycle-runs.js';
import { bundleWorkflows } from '../src/workflow-bundle.js';
import { quotaWorkflowId } from '../src/workflows/quota-messages.js';
import { RecordingSessions } from '../test/support/recording-sessions.js';
import { ScriptedJobRunner } from '../test/support/scripted-runner.js';
import { stepEffects } from '../test/support/step-effects.js';

installRuntime('ERROR');
// HISTORIES_OUT: record elsewhere, to pick single files.
const out = process.env.HISTORIES_OUT ?? resolve(import.meta.dirname, '../test/histories');
const server = await startDevServer({ port: 0 });
const home = await mkdtemp(join(tmpdir(), 'dyff-record-'));
const objects = new FilesystemObjectStore({ root: join(home, 'objects') });
const entities = new SqliteEntityStore({ path: join(home, 'entities.sqlite') });
// Jobs of the stages in `hanging` run until finished by hand: how a run is caught waiting or cancelled mid-step.
const hanging = new Set<string>();
const runner = new ScriptedJobRunner((stage) =>
  hanging.has(stage) ? { outcome: 'hang' } : { outcome: 'succeed', effect: stepEffects(objects) },
);
const connection = await NativeConnection.connect({ address: server.address });
const worker = await Worker.create({
  connection,
  taskQueue: 'record',
  workflowBundle: await bundleWorkflows(),
  activities: createActivities({
    entityStore: entities,
    objectStore: objects,
    jobRunner: runner,
    sessionRunner: new RecordingSessions(),
  }),
});
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
// One audit after the report: the pipeline's audit stage and the audit workflow are recorded with it.
const spec = scriptedPipelineSpec({ audits: [{ procedure: { kind: 'local', path: '/procedures/probe' } }] });
await worker.runUntil(async () => {
  const id = newId();
  const input = {
    id,
    account: 'record',
    spec,
    hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) },
  };
  const view = (await client.workflow.execute('pipelineWorkflow', {
    workflowId: `pipeline-${id}`,
    taskQueue: 'record',
    args: [input],
    ...runStartMetadata({ ...input, kind: 'Pipeline' }),
  })) as { stages: Record<string, { id: string }>; audits?: { id?: string }[] };
  const ids: Record<string, string> = { pipeline: `pipeline-${id}` };
  for (const [stage, s] of Object.entries(view.stages)) ids[stage] = `${stage.toLowerCase()}-${s.id}`;
  ids.audit = `audit-${view.audits?.[0]?.id}`;
  // The account's quota semaphore (still open: it lives as long as the account) and one reaper sweep.
  ids.quota = quotaWorkflowId('record', 'record');
  await client.workflow.execute('reaperWorkflow', {
    workflowId: `reaper-${id}`,
    taskQueue: 'record',
    args: [],
  });
  ids.reaper = `reaper-${id}`;
  Object.assign(ids, await derivedDataset(view.stages.dataset!.id));
  Object.assign(ids, await cancelledDataset());
  Object.assign(ids, await serviceThatWaited());
  Object.assign(ids, await benchmark());
  for (const [name, workflowId] of Object.entries(ids)) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    // Binary protobuf: the JSON form needs protobufjs' JSON extension, which npm installs as several copies here.
    await writeFile(join(out, `${name}.pb`), proto.temporal.api.history.v1.History.encode(history).finish());
    console.log(`recorded ${name} (${history.events?.length} events)`);
  }
});
await entities.close();
await server.stop();

async function running(entityId: string) {
  for (;;) {
    const job = runner.started.find((j) => j.entityId === entityId);
    if (job && runner.isRunning(job.name)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A dataset derived from another (a corruption of its images): it waits for its source and only ingests. */
async function derivedDataset(sourceId: string): Promise<Record<string, string>> {
  const id = newId();
  const source = { kind: 'dataset', dataset: sourceId, corruption: { name: 'brightness', severity: 1 } };
  const handle = await client.workflow.start('datasetWorkflow', {
    workflowId: `dataset-${id}`,
    taskQueue: 'record',
    memo: startMemo(),
    args: [{ id, account: 'record', spec: { source } }],
  });
  await handle.result();
  return { 'dataset-derived': handle.workflowId };
}

/** A dataset cancelled while its fetch job runs: the run records its ending, then stops the job. */
async function cancelledDataset(): Promise<Record<string, string>> {
  const id = newId();
  hanging.add('fetch');
  const handle = await client.workflow.start('datasetWorkflow', {
    workflowId: `dataset-${id}`,
    taskQueue: 'record',
    memo: startMemo(),
    args: [
      { id, account: 'record', spec: { source: { kind: 'url', url: 'https://example.invalid/c.csv' } } },
    ],
  });
  await running(id);
  hanging.delete('fetch');
  await handle.cancel();
  await handle.result().catch(() => undefined);
  return { 'dataset-cancelled': handle.workflowId };
}

/**
 * An inference service created before its model is Ready: it waits, with the wait in its memo, then proceeds. Each
 * run is sent the `recheckDependency` update: the model's while its fetch runs (no wait in progress: answered at
 * once, with RECHECK_OUTSIDE_A_WAIT_PATCH's marker), the service's while it waits (answered after a check). Their
 * histories are kept apart from the one without updates.
 */
async function serviceThatWaited(): Promise<Record<string, string>> {
  const modelId = newId();
  const serviceId = newId();
  hanging.add('fetch');
  const model = await client.workflow.start('modelWorkflow', {
    workflowId: `model-${modelId}`,
    taskQueue: 'record',
    memo: startMemo(),
    args: [
      {
        id: modelId,
        account: 'record',
        spec: { source: { kind: 'urls', urls: ['https://example.invalid/w.json'] } },
      },
    ],
  });
  const job = await running(modelId);
  hanging.delete('fetch');
  await model.executeUpdate('recheckDependency');
  const service = await client.workflow.start('inferenceServiceWorkflow', {
    workflowId: `inferenceservice-${serviceId}`,
    taskQueue: 'record',
    memo: startMemo(),
    args: [
      {
        id: serviceId,
        account: 'record',
        spec: { model: modelId, runner: { kind: 'http', endpoint: 'https://example.invalid' } },
        waitPolicy: { initialMs: 200, maxMs: 200 },
      },
    ],
  });
  // Let it poll the waiting model a few times before the model becomes Ready.
  await new Promise((r) => setTimeout(r, 1500));
  await service.executeUpdate('recheckDependency');
  runner.finish(job.name);
  await model.result();
  await service.result();
  return { 'inferenceService-rechecked': service.workflowId, 'model-rechecked': model.workflowId };
}

/** A robustness benchmark over the pipeline's dataset and model (both reused): the clean cell and one corruption. */
async function benchmark(): Promise<Record<string, string>> {
  const id = newId();
  const { audits: _audits, ...pipeline } = spec;
  const benchmarkSpec = BenchmarkSpec.parse({
    ...pipeline,
    corruptions: [{ name: 'contrast', severities: [2] }],
  });
  const input = {
    id,
    account: 'record',
    spec: benchmarkSpec,
    hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) },
  };
  await client.workflow.execute('benchmarkWorkflow', {
    workflowId: `benchmark-${id}`,
    taskQueue: 'record',
    args: [input],
    ...runStartMetadata({ ...input, kind: 'Benchmark' }),
  });
  return { benchmark: `benchmark-${id}` };
}
