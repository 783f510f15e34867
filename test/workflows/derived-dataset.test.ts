import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { newId } from '../../src/domain/ids.js';
import { DyffAccount, DyffEntityId, DyffKind, DyffStatus } from '../../src/domain/search-attributes.js';
import type { DatasetSpec } from '../../src/domain/specs.js';
import type { JobSpec } from '../../src/ports/job-runner.js';
import { recheckDependencyUpdate } from '../../src/workflows/messages.js';
import { statusQuery } from '../../src/workflows/index.js';
import type { Behaviour } from '../support/scripted-runner.js';
import { ScriptedJobRunner } from '../support/scripted-runner.js';
import { useOrchestrationEnv } from '../support/orchestration.js';
import { startWorkerWithActivities } from '../support/temporal.js';
import { until } from '../support/worker-process.js';

const env = useOrchestrationEnv();

/** What a successful ingest leaves behind: one shard and a manifest that matches it. */
async function writeShard(job: JobSpec): Promise<void> {
  const shard = await env.objects.put(
    'datasets',
    `${job.entityId}/data/part-00000.parquet`,
    Buffer.from('PAR1'),
  );
  const artifact = { kind: 'parquet', path: 'data/part-00000.parquet', rows: 2, size: shard.size };
  const manifest = { rowCount: 2, artifacts: [{ ...artifact, digest: { md5: shard.md5 } }] };
  await env.objects.put('datasets', `${job.entityId}/manifest.json`, JSON.stringify(manifest));
}

function start(id: string, spec: DatasetSpec) {
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

const derivedSpec = (dataset: string): DatasetSpec => ({
  source: {
    kind: 'dataset',
    dataset,
    corruption: { name: 'brightness', severity: 2, seed: 'dyff', column: 'image' },
  },
  ingest: { format: 'auto' },
});

describe('datasetWorkflow, derived from another Dataset', () => {
  it('waits for its source to be Ready, then ingests without fetching; a recheck is answered by either run', async () => {
    const source = newId();
    const derived = newId();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const script = (stage: string): Behaviour =>
      stage === 'fetch'
        ? { outcome: 'succeed', effect: () => gate }
        : { outcome: 'succeed', effect: (j) => writeShard(j) };
    const runner = new ScriptedJobRunner(script);
    const worker = await startWorkerWithActivities(
      env.config,
      createActivities({ entityStore: env.entities, objectStore: env.objects, jobRunner: runner }),
    );
    try {
      const first = await start(source, {
        source: { kind: 'url', url: 'https://example.invalid/digits.zip' },
        ingest: { format: 'image-folders' },
      });
      await until('the source fetch to start', async () => runner.started.some((j) => j.entityId === source));
      // The source waits for nothing and cannot end while its fetch is held: it answers a recheck now, with no
      // check made (before, the update waited for the run's end).
      expect(await first.executeUpdate(recheckDependencyUpdate)).toBe(0);
      const second = await start(derived, derivedSpec(source));
      const waiting = await until('the derived dataset to wait', async () => {
        const v = await second.query(statusQuery);
        return v.reason === 'UnsatisfiedDependency' && v;
      });
      expect(waiting.status).toBe('Created');
      // A waiting run answers after a check made since the update came: its first, then this one.
      expect(await second.executeUpdate(recheckDependencyUpdate)).toBeGreaterThanOrEqual(2);
      expect((await second.query(statusQuery)).reason).toBe('UnsatisfiedDependency');
      release();
      await first.result();
      await second.executeUpdate(recheckDependencyUpdate);
      expect(await second.result()).toMatchObject({ id: derived, status: 'Ready', rowCount: 2 });
      const jobs = runner.started.filter((j) => j.entityId === derived);
      expect(jobs.map((j) => j.stage)).toEqual(['ingest']);
    } finally {
      release();
      await worker.stop();
    }
  });

  it('ends Error/DataSourceMissing when the source Dataset does not exist', async () => {
    const runner = new ScriptedJobRunner(() => ({ outcome: 'succeed' }));
    const worker = await startWorkerWithActivities(
      env.config,
      createActivities({ entityStore: env.entities, objectStore: env.objects, jobRunner: runner }),
    );
    try {
      const id = newId();
      await expect((await start(id, derivedSpec(newId()))).result()).rejects.toThrow();
      expect(await env.entities.get(id)).toMatchObject({ status: 'Error', reason: 'DataSourceMissing' });
      expect(runner.started).toEqual([]);
    } finally {
      await worker.stop();
    }
  });
});
