import { ScheduleNotFoundError } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { Schedules } from '../../src/client-schedules.js';
import { newId } from '../../src/domain/ids.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';
import type { JobSpec } from '../../src/ports/job-runner.js';
import { RecordingSessions } from '../support/recording-sessions.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { stepEffects } from '../support/step-effects.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { cliEnv, DYFFCTL, until } from '../support/worker-process.js';
import { startWorkerWithActivities } from '../support/temporal.js';

const env = useOrchestrationEnv();

let stopWorker: () => Promise<void>;

/** Steps complete at once; the report records how many earlier runs of its schedule it was given. */
const earlierRuns = (job: JobSpec) => ({
  accuracy: 0.5,
  earlierRuns: (JSON.parse(job.args[job.args.indexOf('--history') + 1] ?? '[]') as unknown[]).length,
});

beforeAll(async () => {
  const runner = new ScriptedJobRunner(() => ({
    outcome: 'succeed',
    effect: stepEffects(env.objects, { reportMetrics: earlierRuns }),
  }));
  ({ stop: stopWorker } = await startWorkerWithActivities(
    env.config,
    createActivities({
      entityStore: env.entities,
      objectStore: env.objects,
      jobRunner: runner,
      sessionRunner: new RecordingSessions(),
    }),
  ));
});
afterAll(async () => {
  await stopWorker();
});

const manifest = parsePipelineManifest(`
kind: Pipeline
account: sched
metadata: { name: nightly }
spec:
  dataset: { source: { kind: url, url: "https://example.invalid/d.csv" } }
  model: { source: { kind: urls, urls: ["https://example.invalid/m.json"] } }
  service: { runner: { kind: http, endpoint: "https://example.invalid" } }
  report: { rubric: classification.accuracy }
`);

async function completedRuns(scheduleId: string): Promise<number> {
  let n = 0;
  for await (const _ of env.client.workflow.list({
    query: `TemporalScheduledById="${scheduleId}" AND ExecutionStatus="Completed"`,
  }))
    n++;
  return n;
}

it(
  'a schedule starts pipeline runs, pause stops them, backfill runs the missed ones, delete removes it; reports see earlier runs',
  { timeout: 180_000 },
  async () => {
    const schedules = new Schedules(env.client, env.config.temporal.taskQueue);
    const id = `sched-${newId().slice(0, 8)}`;
    await schedules.create(id, manifest, { every: '3s' });
    // Schedules are listed from visibility, written a moment after the create returns.
    await until('the schedule in the list', async () =>
      (await schedules.list()).some((s) => s.scheduleId === id),
    );

    await until('two scheduled runs', async () => (await completedRuns(id)) >= 2);
    await schedules.pause(id);
    expect((await schedules.describe(id)).state.paused).toBe(true);
    const atPause = (await schedules.describe(id)).info.numActionsTaken;
    await new Promise((r) => setTimeout(r, 7000)); // two intervals pass while paused
    expect((await schedules.describe(id)).info.numActionsTaken).toBe(atPause);

    const now = Date.now();
    await schedules.backfill(id, new Date(now - 9000), new Date(now));
    await until(
      'the backfilled runs',
      async () => (await schedules.describe(id)).info.numActionsTaken >= atPause + 2,
    );
    await until('backfilled runs to complete', async () => (await completedRuns(id)) >= atPause + 2);

    // Each run made its own Evaluation and Report; the Dataset was made once and then reused.
    // A run started just before the pause or by the backfill may still be writing its Report: count only
    // the finished ones.
    const reports = (
      await env.entities.list({
        kind: 'Report',
        account: 'sched',
        labels: { 'dyff.io/schedule': id },
      })
    ).filter((r) => r.status === 'Complete');
    expect(reports.length).toBeGreaterThanOrEqual(atPause + 2);
    const seen = reports.map(
      (r) => (r.details?.metrics as { earlierRuns?: number } | undefined)?.earlierRuns,
    );
    expect(seen.every((n) => typeof n === 'number')).toBe(true);
    expect(Math.max(...(seen as number[]))).toBeGreaterThan(0);
    const datasets = await env.entities.list({ kind: 'Dataset', account: 'sched', status: 'Ready' });
    expect(datasets).toHaveLength(1);

    // `dyffctl schedule history`: the runs newest first, each finished one with its report's headline metric.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [DYFFCTL, 'schedule', 'history', id, '--limit', '100'],
      { env: cliEnv(env.config) },
    );
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(reports.length);
    for (const r of reports)
      expect(lines).toContainEqual(
        expect.stringMatching(
          new RegExp(`  pipeline ${r.labels['dyff.io/pipeline']}  [A-Z]+  accuracy=0\\.5  report ${r.id}$`),
        ),
      );
    const started = lines.map((l) => l.split('  ')[0]!);
    expect(started).toEqual([...started].sort().reverse());

    await schedules.delete(id);
    await expect(schedules.describe(id)).rejects.toBeInstanceOf(ScheduleNotFoundError);
  },
);

it(
  'a paused schedule starts a run when triggered, and runs of its own once unpaused',
  { timeout: 120_000 },
  async () => {
    const schedules = new Schedules(env.client, env.config.temporal.taskQueue);
    const id = `sched-${newId().slice(0, 8)}`;
    await schedules.create(id, manifest, { every: '2s', paused: true });
    expect((await schedules.describe(id)).info.numActionsTaken).toBe(0);

    await schedules.trigger(id);
    await until('the triggered run to complete', async () => (await completedRuns(id)) >= 1);
    const paused = await schedules.describe(id);
    expect(paused.state.paused).toBe(true);
    expect(paused.info.numActionsTaken).toBe(1);

    await schedules.unpause(id);
    expect((await schedules.describe(id)).state.paused).toBe(false);
    await until('two runs of its own', async () => (await completedRuns(id)) >= 3);
    await schedules.delete(id);
  },
);
