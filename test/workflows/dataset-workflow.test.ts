import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { newId } from '../../src/domain/ids.js';
import { STATE_MEMO } from '../../src/domain/run-metadata.js';
import { DyffAccount, DyffEntityId, DyffKind, DyffStatus } from '../../src/domain/search-attributes.js';
import type { DatasetSpec } from '../../src/domain/specs.js';
import type { JobSpec } from '../../src/ports/job-runner.js';
import { statusQuery } from '../../src/workflows/index.js';
import type { Behaviour } from '../support/scripted-runner.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { startWorkerWithActivities } from '../support/temporal.js';
import { until } from '../support/worker-process.js';

const env = useOrchestrationEnv();

const spec: DatasetSpec = {
  source: { kind: 'url', url: 'https://example.invalid/data.csv' },
  ingest: { format: 'csv' },
};

/** What a successful ingest leaves behind: one shard and a manifest that matches it. */
async function writeShard(job: JobSpec, md5Override?: string): Promise<void> {
  const shard = await env.objects.put(
    'datasets',
    `${job.entityId}/data/part-00000.parquet`,
    Buffer.from('PAR1…PAR1'),
  );
  const manifest = {
    rowCount: 3,
    artifacts: [
      {
        kind: 'parquet',
        path: 'data/part-00000.parquet',
        rows: 3,
        size: shard.size,
        digest: { md5: md5Override ?? shard.md5 },
      },
    ],
    schema: { columns: [{ name: '_index_', type: 'BIGINT' }] },
  };
  await env.objects.put('datasets', `${job.entityId}/manifest.json`, JSON.stringify(manifest));
}

const ok: Behaviour = { outcome: 'succeed' };
const ingestOk: Behaviour = { outcome: 'succeed', effect: (j) => writeShard(j) };

async function run(
  script: (stage: string, attempt: number) => Behaviour,
  body: (id: string, runner: ScriptedJobRunner) => Promise<void>,
) {
  const runner = new ScriptedJobRunner(script);
  const worker = await startWorkerWithActivities(
    env.config,
    createActivities({ entityStore: env.entities, objectStore: env.objects, jobRunner: runner }),
  );
  try {
    await body(newId(), runner);
  } finally {
    await worker.stop();
  }
}

function start(id: string) {
  return env.client.workflow.start('datasetWorkflow', {
    workflowId: `dataset-${id}`,
    taskQueue: env.config.temporal.taskQueue,
    args: [{ id, account: 'test', spec }],
    typedSearchAttributes: [
      { key: DyffKind, value: 'Dataset' },
      { key: DyffAccount, value: 'test' },
      { key: DyffEntityId, value: id },
      { key: DyffStatus, value: 'Created' },
    ],
  });
}

describe('datasetWorkflow', () => {
  it('admits, fetches, ingests, verifies and ends Ready with the dataset details', async () => {
    await run(
      (stage) => (stage === 'ingest' ? ingestOk : ok),
      async (id, runner) => {
        const result = await (await start(id)).result();
        expect(result).toMatchObject({ id, status: 'Ready', rowCount: 3 });
        const e = await env.entities.get(id);
        expect(e).toMatchObject({ kind: 'Dataset', account: 'test', status: 'Ready' });
        expect(e?.details).toMatchObject({ rowCount: 3 });
        expect(runner.started.map((j) => j.stage)).toEqual(['fetch', 'ingest']);
        expect(runner.started.map((j) => j.serviceAccount)).toEqual(['data-fetcher', 'dataset-ingester']);
      },
    );
  });

  it('is listed in visibility under DyffKind="Dataset" with its current DyffStatus', async () => {
    await run(
      (stage) => (stage === 'ingest' ? ingestOk : ok),
      async (id) => {
        await (await start(id)).result();
        const query = `DyffKind="Dataset" AND DyffEntityId="${id}" AND DyffStatus="Ready"`;
        // Visibility is eventually consistent: wait for the run to show up.
        const found = await until('the run in a visibility query', async () => {
          const ids: string[] = [];
          for await (const wf of env.client.workflow.list({ query })) ids.push(wf.workflowId);
          return ids.length > 0 && ids;
        });
        expect(found).toEqual([`dataset-${id}`]);
      },
    );
  });

  it('a failing fetch ends Error/FetchFailed with the step log tail, and nothing is ingested', async () => {
    await run(
      (stage) =>
        stage === 'fetch'
          ? {
              outcome: 'fail',
              exitCode: 2,
              logTail: ['downloading https://example.invalid/data.csv', 'error: HTTP 404'],
            }
          : ingestOk,
      async (id, runner) => {
        const err = await (await start(id)).result().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowFailedError);
        const e = await env.entities.get(id);
        expect(e).toMatchObject({ status: 'Error', reason: 'FetchFailed' });
        expect(e?.message).toContain('error: HTTP 404');
        expect(e?.message).toContain('exit code 2');
        expect(runner.started.map((j) => j.stage)).toEqual(['fetch']);
      },
    );
  });

  it('a job lost without an exit code is tried again under a new name', async () => {
    await run(
      (stage, attempt) =>
        stage === 'fetch' && attempt === 1 ? { outcome: 'lost' } : stage === 'ingest' ? ingestOk : ok,
      async (id, runner) => {
        await (await start(id)).result();
        expect(runner.started.map((j) => j.name)).toEqual([
          `fetch-${id}-1`,
          `fetch-${id}-2`,
          `ingest-${id}-1`,
        ]);
        expect((await env.entities.get(id))?.status).toBe('Ready');
      },
    );
  });

  it('a manifest that does not match the stored shards ends Error/VerifyFailed', async () => {
    await run(
      (stage) =>
        stage === 'ingest' ? { outcome: 'succeed', effect: (j) => writeShard(j, '0'.repeat(32)) } : ok,
      async (id) => {
        await expect((await start(id)).result()).rejects.toThrow();
        const e = await env.entities.get(id);
        expect(e).toMatchObject({ status: 'Error', reason: 'VerifyFailed' });
        expect(e?.message).toMatch(/md5/);
      },
    );
  });

  it('cancel while a step runs stops its job and ends Terminated', async () => {
    await run(
      (stage) => (stage === 'fetch' ? { outcome: 'hang' } : ingestOk),
      async (id, runner) => {
        const handle = await start(id);
        const view = await until('the fetch job to start', async () => {
          const v = await handle.query(statusQuery);
          return runner.started.length > 0 && v.jobName !== undefined && v;
        });
        expect(view.status).toBe('Admitted');
        expect(view.stage).toBe('fetch');
        await handle.cancel();
        await expect(handle.result()).rejects.toThrow();
        expect(runner.cancelled).toContain(`fetch-${id}-1`);
        expect(await env.entities.get(id)).toMatchObject({
          status: 'Terminated',
          reason: 'TerminateCommand',
        });
        expect(runner.started.map((j) => j.stage)).toEqual(['fetch']);
        // The run's own record of the ending: its search attribute, memo and the ending's local activities.
        const described = await handle.describe();
        expect(described.status.name).toBe('CANCELLED');
        expect(described.typedSearchAttributes.get(DyffStatus)).toBe('Terminated');
        expect((described.memo?.[STATE_MEMO] as { status?: string } | undefined)?.status).toBe('Terminated');
        const markers = (await handle.fetchHistory()).events!.filter((e) => e.markerRecordedEventAttributes);
        expect(markers.length).toBeGreaterThanOrEqual(4); // create, Admitted, cancelStep, Terminated
      },
    );
  });
});
