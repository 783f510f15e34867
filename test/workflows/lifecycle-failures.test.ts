import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { newId } from '../../src/domain/ids.js';
import type { EntityKind } from '../../src/domain/kinds.js';
import { workflowIdFor } from '../../src/domain/kinds.js';
import type { SessionRunner, SessionStatus } from '../../src/ports/session-runner.js';
import { RecordingSessions } from '../support/recording-sessions.js';
import type { Behaviour } from '../support/scripted-runner.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { startWorkerWithActivities } from '../support/temporal.js';

const env = useOrchestrationEnv();

const WORKFLOW: Partial<Record<EntityKind, string>> = {
  Model: 'modelWorkflow',
  InferenceService: 'inferenceServiceWorkflow',
  Evaluation: 'evaluationWorkflow',
  Report: 'reportWorkflow',
};

async function runEntity(
  kind: EntityKind,
  spec: unknown,
  script: (stage: string) => Behaviour,
  sessions: SessionRunner = new RecordingSessions(),
) {
  const runner = new ScriptedJobRunner((stage) => script(stage));
  const worker = await startWorkerWithActivities(
    env.config,
    createActivities({
      entityStore: env.entities,
      objectStore: env.objects,
      jobRunner: runner,
      sessionRunner: sessions,
    }),
  );
  try {
    const id = newId();
    const handle = await env.client.workflow.start(WORKFLOW[kind]!, {
      workflowId: workflowIdFor(kind, id),
      taskQueue: env.config.temporal.taskQueue,
      args: [{ id, account: 'fail', spec }],
    });
    await handle.result().catch(() => undefined);
    return (await env.entities.get(id))!;
  } finally {
    await worker.stop();
  }
}

/** A Ready (or otherwise finished) entity to depend on. */
async function existing(
  kind: EntityKind,
  status: 'Ready' | 'Error' | 'Complete',
  spec: unknown = {},
): Promise<string> {
  const id = newId();
  await env.entities.create({ id, kind, account: 'fail', spec });
  await env.entities.transition({ id, allowedFrom: ['Created'], to: 'Admitted' });
  await env.entities.transition({ id, allowedFrom: ['Admitted'], to: status });
  return id;
}

const ok: Behaviour = { outcome: 'succeed' };
const fail = (line: string): Behaviour => ({ outcome: 'fail', exitCode: 2, logTail: [`error: ${line}`] });

describe('model, service, evaluation and report failures end with a reason', () => {
  it('a model fetch refused by the Hub → Error/FetchFailed with the step output', async () => {
    const e = await runEntity(
      'Model',
      { source: { kind: 'huggingFaceHub', repoID: 'org/private', revision: 'main' } },
      () => fail('401 Unauthorized from the Hub for org/private: set HF_TOKEN'),
    );
    expect(e).toMatchObject({ status: 'Error', reason: 'FetchFailed' });
    expect(e.message).toContain('set HF_TOKEN');
  });

  it("a run whose id holds another kind's entity leaves that entity alone, also when cancelled", async () => {
    const id = newId();
    await env.entities.create({ id, kind: 'Dataset', account: 'fail', spec: {} });
    const worker = await startWorkerWithActivities(
      env.config,
      createActivities({
        entityStore: env.entities,
        objectStore: env.objects,
        jobRunner: new ScriptedJobRunner(() => ok),
        sessionRunner: new RecordingSessions(),
      }),
    );
    try {
      const handle = await env.client.workflow.start('modelWorkflow', {
        workflowId: workflowIdFor('Model', id),
        taskQueue: env.config.temporal.taskQueue,
        args: [
          { id, account: 'fail', spec: { source: { kind: 'urls', urls: ['https://example.invalid/m'] } } },
        ],
      });
      // The create is refused (AlreadyExists) and retried; the run is cancelled while it is.
      await new Promise((r) => setTimeout(r, 1500));
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
      expect(await env.entities.get(id)).toMatchObject({ kind: 'Dataset', status: 'Created' });
    } finally {
      await worker.stop();
    }
  });

  it('a standalone service without a model → Error/NoSuchModel', async () => {
    const e = await runEntity('InferenceService', { runner: { kind: 'standalone' } }, () => ok);
    expect(e).toMatchObject({ status: 'Error', reason: 'NoSuchModel' });
    expect(e.message).toContain('spec.model');
  });

  it('a service whose model does not exist → Error/NoSuchModel', async () => {
    const e = await runEntity(
      'InferenceService',
      { model: newId(), runner: { kind: 'standalone' } },
      () => ok,
    );
    expect(e).toMatchObject({ status: 'Error', reason: 'NoSuchModel' });
  });

  it('a service whose model failed → Error/FailedDependency', async () => {
    const model = await existing('Model', 'Error');
    const e = await runEntity('InferenceService', { model, runner: { kind: 'standalone' } }, () => ok);
    expect(e).toMatchObject({ status: 'Error', reason: 'FailedDependency' });
    expect(e.message).toContain(model);
  });

  it('a failing build → Error/BuildFailed', async () => {
    const model = await existing('Model', 'Ready');
    const e = await runEntity('InferenceService', { model, runner: { kind: 'standalone' } }, (s) =>
      s === 'build' ? fail('spec.runner.args: unknown flag --gpu') : ok,
    );
    expect(e).toMatchObject({ status: 'Error', reason: 'BuildFailed' });
    expect(e.message).toContain('unknown flag');
  });

  it('an evaluation of a dataset that does not exist → Failed/DataSourceMissing', async () => {
    const service = await existing('InferenceService', 'Ready');
    const e = await runEntity('Evaluation', { dataset: newId(), inferenceService: service }, () => ok);
    expect(e).toMatchObject({ status: 'Failed', reason: 'DataSourceMissing' });
  });

  it('an inference session that never becomes ready → Failed/Incomplete, and the session is stopped', async () => {
    const dataset = await existing('Dataset', 'Ready');
    const service = await existing('InferenceService', 'Ready');
    await env.objects.put(
      'inferenceservices',
      `${service}/service.json`,
      JSON.stringify({
        serviceId: service,
        runner: 'standalone',
        command: ['serve-model'],
        endpoint: '/generate',
        interface: {},
      }),
    );
    const sessions = new (class extends RecordingSessions {
      override async waitReady(name: string): Promise<SessionStatus> {
        throw new Error(
          `session ${name} failed: the session process exited\nerror: model.json is not a dyff-naive-bayes model`,
        );
      }
    })();
    const e = await runEntity('Evaluation', { dataset, inferenceService: service }, () => ok, sessions);
    expect(e).toMatchObject({ status: 'Failed', reason: 'Incomplete' });
    expect(e.message).toContain('not a dyff-naive-bayes model');
    expect(sessions.stopped).toEqual(sessions.started);
  });

  it('verification that finds missing outputs → Failed/Unverified', async () => {
    const dataset = await existing('Dataset', 'Ready');
    const service = await existing('InferenceService', 'Ready');
    await env.objects.put(
      'inferenceservices',
      `${service}/service.json`,
      JSON.stringify({ serviceId: service, runner: 'http', endpoint: 'http://127.0.0.1:1', interface: {} }),
    );
    const e = await runEntity('Evaluation', { dataset, inferenceService: service }, (s) =>
      s === 'verify' ? fail('12 of 40 outputs are missing (missingOutputPolicy Error), e.g. _index_ 3') : ok,
    );
    expect(e).toMatchObject({ status: 'Failed', reason: 'Unverified' });
    expect(e.message).toContain('missing');
  });

  it('a report of an evaluation that does not exist → Failed/NoSuchEvaluation', async () => {
    const e = await runEntity('Report', { evaluation: newId(), rubric: 'classification.accuracy' }, () => ok);
    expect(e).toMatchObject({ status: 'Failed', reason: 'NoSuchEvaluation' });
  });

  it('a report step that cannot find the label column → Failed/ReportFailed naming it', async () => {
    const evaluation = await existing('Evaluation', 'Complete', {
      dataset: newId(),
      inferenceService: newId(),
    });
    const e = await runEntity('Report', { evaluation, rubric: 'classification.accuracy' }, () =>
      fail('spec.parameters.labelColumn: the dataset has no column "label" (columns: _index_, text)'),
    );
    expect(e).toMatchObject({ status: 'Failed', reason: 'ReportFailed' });
    expect(e.message).toContain('labelColumn');
  });
});
