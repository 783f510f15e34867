import { ScheduleOverlapPolicy } from '@temporalio/client';
import { localSecrets } from '../../src/secrets/resolver.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { specHash } from '../../src/activities/lookups.js';
import { LocalProcessJobRunner } from '../../src/adapters/job-runner/local-process.js';
import { groupAlive } from '../../src/adapters/process-group.js';
import { LocalSessionRunner } from '../../src/adapters/session-runner/local-process.js';
import { newId } from '../../src/domain/ids.js';
import type { PipelineInput, PipelineSpec } from '../../src/domain/pipeline.js';
import { PipelineSpec as PipelineSpecSchema } from '../../src/domain/pipeline.js';
import type { ServiceDescription } from '../../src/domain/service.js';
import type { JobRunner } from '../../src/ports/job-runner.js';
import type { SessionRunner } from '../../src/ports/session-runner.js';
import { installReaperSchedule, reaperScheduleId } from '../../src/reaper-schedule.js';
import type { PipelineView } from '../../src/workflows/index.js';
import { readyDependencies } from '../support/ready-dependencies.js';
import { RecordingSessions } from '../support/recording-sessions.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { stepEffects } from '../support/step-effects.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { startWorker, startWorkerWithActivities } from '../support/temporal.js';
import { until } from '../support/worker-process.js';

const env = useOrchestrationEnv();
let scheduleId: string | undefined;
afterAll(async () => {
  if (scheduleId) await env.client.schedule.getHandle(scheduleId).delete();
});

async function withWorker(jobs: JobRunner, sessions: SessionRunner, body: () => Promise<void>) {
  const worker = await startWorkerWithActivities(
    env.config,
    createActivities({
      entityStore: env.entities,
      objectStore: env.objects,
      jobRunner: jobs,
      sessionRunner: sessions,
    }),
  );
  try {
    await body();
  } finally {
    await worker.stop();
  }
}

/**
 * The reaper's schedule on this file's task queue, run now rather than at its next period. The period is long and
 * the trigger keeps the schedule's one-sweep-at-a-time rule (a bare trigger() allows overlap): two sweeps reaping
 * the same entity at once would each stop part of it, and the entity's message would name only one part.
 */
async function sweep(): Promise<void> {
  scheduleId = await installReaperSchedule(env.client, {
    taskQueue: env.config.temporal.taskQueue,
    periodSeconds: 3600,
  });
  await env.client.schedule.getHandle(scheduleId).trigger(ScheduleOverlapPolicy.SKIP);
}

// A sweep still running from before makes a SKIP trigger a no-op: trigger again (still one at a time) while waiting.
let lastSweep = 0;
const terminatedByReaper = async (id: string) =>
  until(`entity ${id} Terminated by the reaper`, async () => {
    if (Date.now() - lastSweep > 3000) {
      lastSweep = Date.now();
      await sweep();
    }
    const e = await env.entities.get(id);
    return e?.status === 'Terminated' && e;
  });

describe('the reaper', () => {
  it('a terminated pipeline: its running job is cancelled, its session stopped, its unfinished entities Terminated', async () => {
    const spec: PipelineSpec = PipelineSpecSchema.parse({
      dataset: { source: { kind: 'url', url: 'https://example.invalid/d.csv' }, ingest: { format: 'csv' } },
      model: { source: { kind: 'urls', urls: ['https://example.invalid/m.json'] } },
      service: { runner: { kind: 'http', endpoint: 'https://example.invalid' } },
      report: { rubric: 'classification.accuracy' },
    });
    const jobs = new ScriptedJobRunner((stage) =>
      stage === 'evaluate' ? { outcome: 'hang' } : { outcome: 'succeed', effect: stepEffects(env.objects) },
    );
    const sessions = new RecordingSessions();
    await withWorker(jobs, sessions, async () => {
      const input: PipelineInput = {
        id: newId(),
        account: `reap-${newId().slice(0, 8)}`,
        spec,
        hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) },
        force: true,
      };
      const handle = await env.client.workflow.start('pipelineWorkflow', {
        workflowId: `pipeline-${input.id}`,
        taskQueue: env.config.temporal.taskQueue,
        args: [input],
      });
      const evaluate = await until('the evaluate job', async () =>
        jobs.started.find((j) => j.stage === 'evaluate'),
      );
      const view = await handle.query<PipelineView>('pipeline');
      await handle.terminate('operator pressed terminate');
      expect(await env.entities.get(evaluate.entityId)).toMatchObject({ status: 'Admitted' });

      await sweep();
      const evaluation = await terminatedByReaper(evaluate.entityId);
      expect(evaluation).toMatchObject({ reason: 'TerminateCommand' });
      expect(evaluation.message).toMatch(/terminated; the reaper stopped its jobs/);
      expect(jobs.cancelled).toContain(evaluate.name);
      expect((await jobs.status(evaluate.name))?.phase).toBe('failed');
      expect(sessions.stopped).toEqual(sessions.started);
      // What the pipeline had finished stays as it was.
      expect(await env.entities.get(view.stages.dataset.id!)).toMatchObject({ status: 'Ready' });
      expect(await env.entities.get(view.stages.inferenceService.id!)).toMatchObject({ status: 'Ready' });
    });
  });

  it('a terminated evaluation with its session up: the session process and the job process are stopped', async () => {
    const dataHome = env.config.dataHome;
    // Real processes: a job that would run forever, and a session that answers its readiness probe.
    const jobs = new LocalProcessJobRunner({
      root: join(dataHome, 'jobs'),
      command: [process.execPath, '-e', 'setInterval(() => {}, 1000)', '--'],
    });
    const sessions = new LocalSessionRunner({
      root: join(dataHome, 'sessions'),
      command: [process.execPath],
      secrets: localSecrets({ dataHome }),
    });
    const serve = `require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1')`;
    await withWorker(jobs, sessions, async () => {
      const account = `reap-${newId().slice(0, 8)}`;
      const description = (service: string): ServiceDescription => ({
        serviceId: service,
        runner: 'standalone',
        command: ['-e', serve],
        readinessPath: '/',
        endpoint: '/',
        interface: {},
      });
      const { dataset, service } = await readyDependencies(env, account, description);
      const id = newId();
      const handle = await env.client.workflow.start('evaluationWorkflow', {
        workflowId: `evaluation-${id}`,
        taskQueue: env.config.temporal.taskQueue,
        args: [{ id, account, spec: { dataset, inferenceService: service } }],
      });
      const job = await until('the evaluate job running', async () =>
        (await jobs.list(id)).find((j) => j.phase === 'running'),
      );
      const [session] = await sessions.list(id);
      expect(session?.phase).toBe('ready');
      const sessionPid = Number(await readFile(join(dataHome, 'sessions', session!.name, 'pid'), 'utf8'));
      const jobPid = Number(await readFile(join(dataHome, 'jobs', job.name, 'pid'), 'utf8'));
      await handle.terminate('operator pressed terminate');
      expect(groupAlive(sessionPid) && groupAlive(jobPid)).toBe(true);

      await sweep();
      const evaluation = await terminatedByReaper(id);
      expect(evaluation).toMatchObject({ reason: 'TerminateCommand' });
      expect(evaluation.message).toContain(`session ${session!.name}`);
      // Stopping is SIGTERM, then SIGKILL after a grace period; the exited processes are reaped soon after.
      await until('the session process gone', async () => !groupAlive(sessionPid), 20_000);
      await until('the job process gone', async () => !groupAlive(jobPid), 20_000);
      expect(await sessions.list(id)).toEqual([]);
      expect((await jobs.list(id)).filter((j) => j.phase === 'running')).toEqual([]);
    });
  });

  it('every worker installs the reaper schedule at start; a second worker leaves one schedule, with its period', async () => {
    const first = await startWorker({ ...env.config, reaper: { periodSeconds: 45 } });
    const second = await startWorker({ ...env.config, reaper: { periodSeconds: 30 } });
    try {
      scheduleId = reaperScheduleId(env.config.temporal.taskQueue);
      const described = await env.client.schedule.getHandle(scheduleId).describe();
      expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reaperWorkflow' });
      expect(described.spec.intervals?.map((i) => i.every)).toEqual([30_000]);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});
