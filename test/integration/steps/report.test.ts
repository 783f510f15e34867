import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { query } from '../../support/duckdb.js';
import {
  REP_A,
  REP_B,
  TEXT_RESPONSE,
  classifierFixture,
  putDataset,
  putOutputs,
  reportHtml,
  reportJson,
  runReport,
} from './helpers/report-fixtures.js';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv, newId } from './helpers/step-env.js';

let env: StepEnv;
beforeEach(async () => {
  env = await createStepEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const spec = (evaluation: string, rubric: string, parameters: Record<string, unknown> = {}) => ({
  evaluation,
  rubric,
  parameters: { split: 'test', ...parameters },
});

describe('report: classification', () => {
  it('scores accuracy, per-class P/R/F1 and the confusion matrix on the split, leaving skipped items out', async () => {
    const { dataset, evaluation } = await classifierFixture(env);
    const id = newId();
    const run = await runReport(env, id, spec(evaluation, 'classification.accuracy'), { dataset });
    expect(run.code, run.lines.join('\n')).toBe(0);
    expect(run.lines).toContain(
      `accuracy 0.7000 over 10 scored item(s), 1 skipped; wrote reports/${id}/report.json and index.html`,
    );

    const doc = await reportJson(env, id);
    expect(doc).toMatchObject({ reportId: id, rubric: 'classification.accuracy', headline: 'accuracy' });
    expect(doc.metrics).toMatchObject({ accuracy: 0.7, scored: 10, correct: 7, microRecall: 0.7 });
    expect(doc.metrics.macroPrecision).toBeCloseTo(0.75, 10);
    expect(doc.metrics.macroRecall).toBeCloseTo((2 / 3 + 0.75 + 2 / 3) / 3, 10);
    expect(doc.metrics.macroF1).toBeCloseTo((0.8 + 0.75 + 4 / 7) / 3, 10);
    expect(doc.metrics.microF1).toBeCloseTo(0.7, 10);
    expect(doc.confusion).toEqual({
      labels: ['bird', 'cat', 'dog'],
      matrix: [
        [2, 0, 1],
        [0, 3, 1],
        [0, 1, 2],
      ],
    });
    const perClass = Object.fromEntries(doc.perClass!.map((c) => [c.label, c]));
    expect(perClass.bird).toMatchObject({ support: 3, predicted: 2, truePositives: 2, precision: 1 });
    expect(perClass.bird!.recall).toBeCloseTo(2 / 3, 10);
    expect(perClass.bird!.f1).toBeCloseTo(0.8, 10);
    expect(perClass.cat).toMatchObject({ support: 4, predicted: 4, precision: 0.75, recall: 0.75, f1: 0.75 });
    expect(perClass.dog).toMatchObject({ support: 3, predicted: 4, precision: 0.5 });
    expect(perClass.dog!.f1).toBeCloseTo(4 / 7, 10);
    expect(doc.skipped).toEqual({
      count: 1,
      items: [{ _index_: 10, _replication_: REP_A, status: '400', message: 'bad request: <input too long>' }],
    });
    expect(doc.missing).toBe(0);
    expect(doc.replications).toEqual([
      { replication: REP_A, scored: 10, correct: 7, score: 0.7, topKCorrect: 7, topKAccuracy: 0.7 },
    ]);
  });

  it('without a split scores every row the outputs have', async () => {
    const { dataset, evaluation } = await classifierFixture(env);
    const id = newId();
    const run = await runReport(env, id, { evaluation, rubric: 'classification.accuracy' }, { dataset });
    expect(run.code, run.last).toBe(0);
    // _index_ 11 and 12 (train) are both wrong: 7 of 12.
    expect((await reportJson(env, id)).metrics).toMatchObject({ scored: 12, correct: 7 });
  });

  it('downloads its inputs when the store has no local files (GCS)', async () => {
    const { dataset, evaluation } = await classifierFixture(env);
    const id = newId();
    const run = await runReport(env, id, spec(evaluation, 'classification.accuracy'), {
      dataset,
      remote: true,
    });
    expect(run.code, run.last).toBe(0);
    expect((await reportJson(env, id)).metrics).toMatchObject({ accuracy: 0.7, scored: 10 });
  });

  it('top-k accuracy counts the label anywhere in the first k responses', async () => {
    const { dataset, evaluation } = await classifierFixture(env);
    const id = newId();
    const run = await runReport(env, id, spec(evaluation, 'classification.topKAccuracy', { k: 2 }), {
      dataset,
    });
    expect(run.code, run.last).toBe(0);
    const doc = await reportJson(env, id);
    expect(doc.headline).toBe('topKAccuracy');
    expect(doc.metrics).toMatchObject({ topKAccuracy: 0.9, topKCorrect: 9, k: 2, accuracy: 0.7 });
    expect(await reportHtml(env, id)).toContain('top-2 accuracy');
  });

  it('reports each replication and the spread of accuracy across them', async () => {
    const { dataset, evaluation } = await classifierFixture(env, { replications: 2 });
    const id = newId();
    expect((await runReport(env, id, spec(evaluation, 'classification.accuracy'), { dataset })).code).toBe(0);
    const doc = await reportJson(env, id);
    expect(doc.replications.map((r) => [r.replication, r.scored, r.correct, r.score])).toEqual([
      [REP_A, 10, 7, 0.7],
      [REP_B, 10, 8, 0.8],
    ]);
    expect(doc.metrics).toMatchObject({ accuracy: 0.75, scored: 20, correct: 15, replications: 2 });
    expect(doc.metrics.accuracyMean).toBeCloseTo(0.75, 10);
    expect(doc.metrics).toMatchObject({ accuracyMin: 0.7, accuracyMax: 0.8 });
    expect(doc.confusion!.matrix[0]).toEqual([5, 0, 1]);
  });
});

describe('report: text.exactMatch', () => {
  it('matches trimmed text, writes every instance to instances.parquet and the first ones to the page', async () => {
    const dataset = await putDataset(
      env,
      [
        { _index_: 0, question: 'capital of France?', answer: 'Paris' },
        { _index_: 1, question: '2+2?', answer: '4' },
        { _index_: 2, question: 'colour of the sky?', answer: 'blue' },
        { _index_: 3, question: 'markup?', answer: '<b>&amp;</b>' },
      ],
      { _index_: 'BIGINT', question: 'VARCHAR', answer: 'VARCHAR' },
    );
    const text = (t: string) => [{ text: t, _response_index_: 0 }];
    const evaluation = await putOutputs(
      env,
      [
        { _replication_: REP_A, _index_: 0, responses: text('Paris') },
        { _replication_: REP_A, _index_: 1, responses: text(' 4\n') },
        { _replication_: REP_A, _index_: 2, responses: text('Blue') },
        { _replication_: REP_A, _index_: 3, responses: text('<b>&amp;</b>') },
        { _replication_: REP_B, _index_: 0, responses: [] },
      ],
      { expected: 5, written: 5, duplicatesRemoved: 0, missing: 3, skipped: 0, replications: 2 },
      { responseType: TEXT_RESPONSE },
    );
    const id = newId();
    const parameters = { labelColumn: 'answer', predictionField: 'text' };
    const run = await runReport(env, id, { evaluation, rubric: 'text.exactMatch', parameters }, { dataset });
    expect(run.code, run.last).toBe(0);

    const doc = await reportJson(env, id);
    expect(doc.metrics).toMatchObject({
      exactMatch: 0.6,
      matched: 3,
      scored: 5,
      exactMatchMin: 0,
      exactMatchMax: 0.75,
    });
    expect(doc).toMatchObject({ headline: 'exactMatch', missing: 3, skipped: { count: 0, items: [] } });
    expect(doc.instances).toEqual({ key: `${id}/instances.parquet`, rows: 5 });
    expect(doc.perClass).toBeUndefined();
    const file = env.store.localPath('reports', `${id}/instances.parquet`);
    expect(
      await query(`SELECT _index_::INT AS i, _replication_ AS r, expected, got, match FROM '${file}'`),
    ).toEqual([
      { i: 0, r: REP_A, expected: 'Paris', got: 'Paris', match: true },
      { i: 0, r: REP_B, expected: 'Paris', got: null, match: false },
      { i: 1, r: REP_A, expected: '4', got: ' 4\n', match: true },
      { i: 2, r: REP_A, expected: 'blue', got: 'Blue', match: false },
      { i: 3, r: REP_A, expected: '<b>&amp;</b>', got: '<b>&amp;</b>', match: true },
    ]);
    const html = await reportHtml(env, id);
    expect(html).toContain('<pre>&lt;b&gt;&amp;amp;&lt;/b&gt;</pre>');
    expect(html).not.toContain('<b>&amp;</b>');
    expect(html).toContain('First 5 of 5 rows');
  });
});

describe('report: the page', () => {
  it('escapes labels, renders lineage and the trend, and references nothing outside the file', async () => {
    const evil = '<script>alert("x")</script>';
    const dataset = await putDataset(env, [
      { _index_: 0, text: 'a', label: evil, split: 'test' },
      { _index_: 1, text: 'b', label: 'ok', split: 'test' },
    ]);
    const evaluation = await putOutputs(
      env,
      [
        { _replication_: REP_A, _index_: 0, responses: [{ label: evil, score: 1, _response_index_: 0 }] },
        { _replication_: REP_A, _index_: 1, responses: [{ label: evil, score: 1, _response_index_: 0 }] },
      ],
      { expected: 2, written: 2, skipped: 0, missing: 0 },
    );
    // The shape the report workflow passes: {id, name, status, spec} per entity, name null when unset.
    const lineage = {
      dataset: {
        id: dataset,
        name: null,
        status: 'Ready',
        spec: { source: { kind: 'local', path: '/data/</pre>' } },
      },
      evaluation: { id: evaluation, name: null, status: 'Complete', spec: { dataset, replications: 1 } },
      model: { id: 'f'.repeat(32), name: 'demo-classifier', status: 'Ready' },
    };
    const history = [
      { reportId: 'r2', createdAt: '2024-02-01T00:00:00Z', metrics: { accuracy: 0.25 } },
      { reportId: 'r1', createdAt: '2024-01-01T00:00:00Z', metrics: { accuracy: 0.75 } },
    ];
    const id = newId();
    const run = await runReport(env, id, spec(evaluation, 'classification.accuracy'), {
      dataset,
      lineage,
      history,
    });
    expect(run.code, run.last).toBe(0);

    const html = await reportHtml(env, id);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    // No scripts, stylesheets, fonts or images from anywhere: the SVG namespace is the only URL.
    expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '')).not.toMatch(
      /https?:|src=|href=|@import|url\(/i,
    );
    expect(html).toContain(`id <code>${evaluation}</code> · Complete`);
    expect(html).toContain('demo-classifier');
    expect(html).toContain('&quot;path&quot;: &quot;/data/&lt;/pre&gt;&quot;');
    expect(html.match(/class="trend-point/g)).toHaveLength(3);
    expect(html).toContain('class="trend-point current"');

    const doc = await reportJson(env, id);
    expect(doc.history.map((h) => h.reportId)).toEqual(['r1', 'r2']);
    expect(doc.lineage).toEqual(lineage);
    expect(doc.metrics.accuracy).toBe(0.5);
  });
});

describe('report: bad input exits 2 and says what to fix', () => {
  it('names the evaluation whose verified outputs are missing', async () => {
    const dataset = await putDataset(env, [{ _index_: 0, text: 'a', label: 'x', split: 'test' }]);
    const evaluation = newId();
    const run = await runReport(env, newId(), spec(evaluation, 'classification.accuracy'), { dataset });
    expect(run.code).toBe(2);
    expect(run.last).toBe(`error: NoSuchEvaluation: outputs/${evaluation}/verified not found`);
  });

  it('names a missing dataset', async () => {
    const { evaluation } = await classifierFixture(env);
    const dataset = newId();
    const run = await runReport(env, newId(), spec(evaluation, 'classification.accuracy'), { dataset });
    expect(run.code).toBe(2);
    expect(run.last).toBe(`error: NoSuchDataset: datasets/${dataset}/data has no Parquet files`);
  });

  it('names an absent label column and lists the dataset columns', async () => {
    const { dataset, evaluation } = await classifierFixture(env);
    const run = await runReport(
      env,
      newId(),
      spec(evaluation, 'classification.accuracy', { labelColumn: 'gold' }),
      {
        dataset,
      },
    );
    expect(run.code).toBe(2);
    expect(run.last).toBe(
      `error: spec.parameters.labelColumn: column "gold" not in dataset ${dataset}; available: _index_, text, label, split`,
    );
  });

  it('names an absent prediction field and lists the response fields', async () => {
    const { dataset, evaluation } = await classifierFixture(env);
    const run = await runReport(
      env,
      newId(),
      spec(evaluation, 'text.exactMatch', { predictionField: 'text' }),
      {
        dataset,
      },
    );
    expect(run.code).toBe(2);
    expect(run.last).toBe(
      `error: spec.parameters.predictionField: field "text" not in the responses of outputs/${evaluation}/verified; available: label, score, _response_index_`,
    );
  });

  it('refuses a split no output falls in, listing the split values', async () => {
    const { dataset, evaluation } = await classifierFixture(env);
    const run = await runReport(env, newId(), spec(evaluation, 'classification.accuracy', { split: 'dev' }), {
      dataset,
    });
    expect(run.code).toBe(2);
    expect(run.last).toContain('spec.parameters.split: no output');
    expect(run.last).toContain('values in dataset');
    expect(run.last).toContain('test, train');
  });

  it('refuses a missing --dataset, bad --history JSON and a lineage that names another evaluation', async () => {
    const { dataset, evaluation } = await classifierFixture(env);
    const s = spec(evaluation, 'classification.accuracy');
    const noDataset = await runReport(env, newId(), s, {});
    expect([noDataset.code, noDataset.last]).toEqual([
      2,
      'error: --dataset: expected a dataset id (32 lowercase hex digits), got ""',
    ]);
    const badHistory = await runReport(env, newId(), s, { dataset, extra: ['--history', '[{'] });
    expect(badHistory.code).toBe(2);
    expect(badHistory.last).toMatch(/^error: --history: not valid JSON/);
    const other = newId();
    const wrong = await runReport(env, newId(), s, { dataset, lineage: { evaluation: { id: other } } });
    expect([wrong.code, wrong.last]).toEqual([
      2,
      `error: --lineage: evaluation.id is ${other} but the report scores evaluation ${evaluation}`,
    ]);
  });
});
