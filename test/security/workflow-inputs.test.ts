import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { newId } from '../../src/domain/ids.js';
import type { RunningWorker } from '../support/temporal.js';
import { startWorker, temporalClient, testConfig } from '../support/temporal.js';
import { until } from '../support/worker-process.js';

/*
 * Workflows started with the plain Temporal client, as anyone with access to the namespace (the CLI, a schedule,
 * a script) can: the input is checked inside the workflow, and a bad one fails the run before anything is written.
 */
let config: Config;
let cleanup: () => Promise<void>;
let client: Client;
let worker: RunningWorker;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  client = await temporalClient(config);
  worker = await startWorker(config);
});
afterAll(async () => {
  await worker?.stop();
  await client?.connection.close();
  await cleanup();
});

const datasetSpec = {
  source: { kind: 'url', url: 'http://127.0.0.1:9/data.csv' },
  ingest: { format: 'csv' },
};

async function refusedRun(workflowType: string, input: Record<string, unknown>): Promise<ApplicationFailure> {
  const workflowId = `attack-${newId()}`;
  const handle = await client.workflow.start(workflowType, {
    workflowId,
    taskQueue: config.temporal.taskQueue,
    args: [input],
  });
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  const failure = cause as ApplicationFailure;
  expect(failure.type).toBe('InvalidSpec');
  expect(failure.nonRetryable).toBe(true);
  // Failed at once: no activity (no store write, no job) was ever scheduled.
  const history = await handle.fetchHistory();
  const kinds = (history.events ?? []).map((e) => e.eventType);
  expect(kinds).not.toContain(10); // ACTIVITY_TASK_SCHEDULED
  expect(kinds).not.toContain(26); // MARKER_RECORDED (local activities)
  expect(kinds).not.toContain(29); // START_CHILD_WORKFLOW_EXECUTION_INITIATED
  expect(existsSync(join(config.dataHome, 'jobs'))).toBe(false);
  return failure;
}

async function nothingStored(): Promise<void> {
  expect(await worker.adapters.entityStore.list({ limit: 1000 })).toEqual([]);
  expect(existsSync(join(config.dataHome, 'objects', 'rawdata'))).toBe(false);
}

describe('workflow inputs are checked inside the workflow', () => {
  it("the issue's datasetWorkflow with id '../../etc' and spec {}", async () => {
    const f = await refusedRun('datasetWorkflow', { id: '../../etc', account: 'public', spec: {} });
    expect(f.message).toMatch(/id: expected 32 lowercase hex digits/);
    expect(f.message).toMatch(/spec\.source: required/);
    await nothingStored();
  });

  it.each([
    ['an id in uppercase hex', { id: newId().toUpperCase() }, /id: expected 32 lowercase hex digits/],
    ['an id with a slash', { id: `${newId().slice(0, 31)}/` }, /id: expected 32 lowercase hex digits/],
    ['an account that is a path', { account: '../root' }, /account: expected a lowercase account name/],
    ['a label key that is a path', { labels: { '../../x': 'y' } }, /labels\.\.\.\/\.\.\/x: Invalid key/],
    ['an oversized name', { name: 'n'.repeat(10_000) }, /name: /],
    ['an unknown field', { extra: 'x' }, /Unrecognized key/i],
    [
      'a file: URL source',
      { spec: { source: { kind: 'url', url: 'file:///etc/passwd' } } },
      /spec\.source\.url: expected http\(s\) URL/,
    ],
    [
      'a gopher: URL source',
      { spec: { source: { kind: 'url', url: 'gopher://127.0.0.1:70/' } } },
      /spec\.source\.url/,
    ],
  ])('datasetWorkflow with %s', async (_what, change, message) => {
    const f = await refusedRun('datasetWorkflow', {
      id: newId(),
      account: 'public',
      spec: datasetSpec,
      ...change,
    });
    expect(f.message).toMatch(message);
    await nothingStored();
  });

  it('an inferenceServiceWorkflow whose runner.env sets NODE_OPTIONS', async () => {
    const f = await refusedRun('inferenceServiceWorkflow', {
      id: newId(),
      account: 'public',
      spec: {
        model: newId(),
        runner: { kind: 'standalone', env: { NODE_OPTIONS: '--import=data:text/javascript,1' } },
      },
    });
    expect(f.message).toMatch(/spec\.runner\.env\.NODE_OPTIONS: NODE_OPTIONS may not be set by a spec/);
    await nothingStored();
  });

  it('an evaluationWorkflow whose dataset id is a path', async () => {
    const f = await refusedRun('evaluationWorkflow', {
      id: newId(),
      account: 'public',
      spec: { dataset: '../datasets', inferenceService: newId() },
    });
    expect(f.message).toMatch(/spec\.dataset: expected 32 lowercase hex digits/);
  });

  it('a pipelineWorkflow with an empty spec', async () => {
    const f = await refusedRun('pipelineWorkflow', { id: newId(), account: 'public', spec: {}, hashes: {} });
    expect(f.message).toMatch(/spec\.dataset: required/);
    expect(f.message).toMatch(/hashes\.dataset: required/);
    await nothingStored();
  });

  it('a schedule whose action carries a bad pipeline input: each run it starts fails InvalidSpec', async () => {
    const scheduleId = `attack-${newId().slice(0, 12)}`;
    const schedule = await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1h' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'pipelineWorkflow',
        workflowId: `pipeline-${scheduleId}`,
        taskQueue: config.temporal.taskQueue,
        args: [{ id: '', account: 'Attacker/../x', spec: {}, hashes: {} }],
      },
    });
    try {
      await schedule.trigger();
      const runId = await until('the triggered run', async () => {
        for await (const wf of client.workflow.list({ query: `TemporalScheduledById="${scheduleId}"` }))
          return wf.workflowId;
        return undefined;
      });
      const err = await client.workflow
        .getHandle(runId)
        .result()
        .catch((e: unknown) => e);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('InvalidSpec');
      expect(cause.message).toMatch(/account: expected a lowercase account name/);
      await nothingStored();
    } finally {
      await schedule.delete();
    }
  });
});
