import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OverlapPolicy } from '../../src/client-schedules.js';
import { Schedules } from '../../src/client-schedules.js';
import { newId } from '../../src/domain/ids.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';
import { startScriptedWorker, useOrchestrationEnv } from '../support/orchestration.js';
import { stepEffects } from '../support/step-effects.js';
import { until } from '../support/worker-process.js';

/*
 * A schedule's overlap policy decides what its next action does while the previous run still goes. Here every
 * run's report step hangs, so every run is still going when the next action is due.
 */

const env = useOrchestrationEnv();
let stopWorker: () => Promise<void>;
const made: string[] = [];

beforeAll(async () => {
  ({ stop: stopWorker } = await startScriptedWorker(env, (stage) =>
    stage === 'report' ? { outcome: 'hang' } : { outcome: 'succeed', effect: stepEffects(env.objects) },
  ));
});
afterAll(async () => {
  const schedules = new Schedules(env.client, env.config.temporal.taskQueue);
  for (const id of made) {
    await schedules.delete(id).catch(() => undefined);
    for await (const run of env.client.workflow.list({ query: `DyffScheduleId="${id}"` }))
      if (run.status.name === 'RUNNING')
        await env.client.workflow.getHandle(run.workflowId, run.runId).terminate('test over');
  }
  await stopWorker?.();
});

const manifest = parsePipelineManifest(`
kind: Pipeline
account: overlap
metadata: { name: slow }
spec:
  dataset: { source: { kind: url, url: "https://example.invalid/d.csv" } }
  model: { source: { kind: urls, urls: ["https://example.invalid/m.json"] } }
  service: { runner: { kind: http, endpoint: "https://example.invalid" } }
  report: { rubric: classification.accuracy }
`);

async function scheduled(overlap: OverlapPolicy) {
  const schedules = new Schedules(env.client, env.config.temporal.taskQueue);
  const id = `overlap-${overlap}-${newId().slice(0, 6)}`;
  made.push(id);
  await schedules.create(id, manifest, { every: '2s', overlap });
  return { schedules, id };
}

it(
  'skip: while a run goes, the due actions are skipped and one run goes at a time',
  { timeout: 120_000 },
  async () => {
    const { schedules, id } = await scheduled('skip');
    await until(
      'two actions skipped',
      async () => (await schedules.describe(id)).info.numActionsSkippedOverlap >= 2,
    );
    const { info } = await schedules.describe(id);
    expect(info.runningActions).toHaveLength(1);
    expect(info.numActionsTaken).toBe(1);
  },
);

it('allow-all: each due action starts a run beside the ones still going', { timeout: 120_000 }, async () => {
  const { schedules, id } = await scheduled('allow-all');
  // The server tracks running actions only for the policies that need them, so the runs are counted in visibility.
  const running = async () => {
    let n = 0;
    const query = `DyffKind="Pipeline" AND DyffScheduleId="${id}" AND ExecutionStatus="Running"`;
    for await (const _ of env.client.workflow.list({ query })) n++;
    return n;
  };
  await until('two runs going at once', async () => (await running()) >= 2);
  expect((await schedules.describe(id)).info.numActionsSkippedOverlap).toBe(0);
});

it('the policy is checked when the schedule is made', async () => {
  const { parseOverlap } = await import('../../src/client-schedules.js');
  expect(() => parseOverlap('sometimes')).toThrow(
    '--overlap: expected one of skip, buffer-one, buffer-all, cancel-other, terminate-other, allow-all, got sometimes',
  );
});
