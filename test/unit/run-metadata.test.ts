import { describe, expect, it } from 'vitest';
import { PIPELINE_LABEL, SCHEDULE_LABEL } from '../../src/domain/labels.js';
import {
  ENTITY_MEMO,
  entityFromMemo,
  relatedIds,
  runDetails,
  runSearchAttributes,
  runSummary,
  STATE_MEMO,
} from '../../src/domain/run-metadata.js';

const ids = { d: 'd'.repeat(32), m: 'm'.repeat(32), s: 's'.repeat(32), p: 'p'.repeat(32) };

describe('run metadata', () => {
  it('links each kind to the ids its spec names, its pipeline and its schedule', () => {
    expect(relatedIds({ kind: 'Dataset', id: ids.d, account: 'a' })).toEqual({
      datasetId: ids.d,
      modelId: undefined,
      pipelineId: undefined,
      scheduleId: undefined,
    });
    expect(
      relatedIds({ kind: 'InferenceService', id: ids.s, account: 'a', spec: { model: ids.m } }).modelId,
    ).toBe(ids.m);
    expect(
      relatedIds({
        kind: 'Evaluation',
        id: 'e',
        account: 'a',
        spec: { dataset: ids.d, inferenceService: ids.s },
        labels: { [PIPELINE_LABEL]: ids.p, [SCHEDULE_LABEL]: 'nightly' },
        modelId: ids.m,
      }),
    ).toEqual({ datasetId: ids.d, modelId: ids.m, pipelineId: ids.p, scheduleId: 'nightly' });
    // A pipeline's spec holds sources, not ids; it is its own pipeline.
    const pipeline = relatedIds({
      kind: 'Pipeline',
      id: ids.p,
      account: 'a',
      spec: { dataset: { source: {} }, model: { source: {} } },
    });
    expect(pipeline).toEqual({
      datasetId: undefined,
      modelId: undefined,
      pipelineId: ids.p,
      scheduleId: undefined,
    });
  });

  it('sets kind, account and id always, and only the linked ids that apply', () => {
    const pairs = runSearchAttributes({ kind: 'Model', id: ids.m, account: 'public' });
    expect(pairs.map((p) => [p.key.name, p.value])).toEqual([
      ['DyffKind', 'Model'],
      ['DyffAccount', 'public'],
      ['DyffEntityId', ids.m],
      ['DyffSummary', `Model ${ids.m} (public)`],
      ['DyffModelId', ids.m],
    ]);
  });

  it('summarises a run in one line and details its spec in at most 16 short lines', () => {
    expect(runSummary({ kind: 'Dataset', id: ids.d, name: 'spamassassin', account: 'public' })).toBe(
      'Dataset spamassassin (public)',
    );
    expect(runSummary({ kind: 'Report', id: ids.d, account: 'public' })).toBe(`Report ${ids.d} (public)`);
    const details = runDetails({
      kind: 'Dataset',
      id: ids.d,
      account: 'public',
      labels: { [PIPELINE_LABEL]: ids.p },
      spec: {
        source: { kind: 'url', url: `https://example.invalid/${'x'.repeat(300)}` },
        ingest: { format: 'csv', split: { fractions: { train: 0.8, test: 0.2 } } },
        secrets: [{ name: 'hub', key: 'token' }],
        tags: ['a', 'b'],
        ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i])),
      },
    });
    const lines = details.split('\n').filter(Boolean);
    expect(lines[0]).toBe(`**Dataset** \`${ids.d}\` · account \`public\``);
    expect(lines).toContain(`- pipeline: \`${ids.p}\``);
    expect(lines).toContain('- source.kind: url');
    expect(lines).toContain('- ingest.format: csv');
    expect(lines).toContain('- secrets: 1 entries');
    expect(lines).toContain('- tags: a, b');
    expect(lines.length).toBe(16);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(140);
  });

  it('reads the entity from the memo; a run that closed without recording its ending reads as the store would', () => {
    const started = new Date('2026-01-01T00:00:00Z');
    const closed = new Date('2026-01-01T00:05:00Z');
    const memo = (status: string) => ({
      [ENTITY_MEMO]: { id: ids.d, kind: 'Evaluation', account: 'a', spec: { x: 1 } },
      [STATE_MEMO]: { status, lastTransitionTime: '2026-01-01T00:01:00.000Z' },
    });
    expect(entityFromMemo({}, started)).toBeUndefined();
    expect(entityFromMemo(memo('Admitted'), started, { status: 'RUNNING' })).toMatchObject({
      status: 'Admitted',
      labels: {},
      creationTime: started.toISOString(),
    });
    expect(
      entityFromMemo(memo('Complete'), started, { status: 'COMPLETED', closeTime: closed })?.status,
    ).toBe('Complete');
    expect(
      entityFromMemo(memo('Admitted'), started, { status: 'CANCELLED', closeTime: closed }),
    ).toMatchObject({
      status: 'Terminated',
      reason: 'TerminateCommand',
      lastTransitionTime: closed.toISOString(),
    });
    expect(entityFromMemo(memo('Created'), started, { status: 'TERMINATED' })?.status).toBe('Terminated');
    expect(entityFromMemo(memo('Admitted'), started, { status: 'TIMED_OUT' })).toMatchObject({
      status: 'Failed',
      reason: 'Interrupted',
      message: 'the workflow ended timed out before recording an ending',
    });
  });
});
