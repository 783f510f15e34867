import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '../../../../src/ports/object-store.js';
import { PROGRESS_PREFIX } from '../../../../src/steps/context.js';
import type { ReportDocument } from '../../../../src/steps/report/types.js';
import { runStepProgram } from '../../../../src/steps/run.js';
import type { StepEnv, StepRun } from './step-env.js';
import { newId } from './step-env.js';

/**
 * Inputs of the report step in exactly the shapes ingest and verify write them: dataset shards with a BIGINT
 * `_index_`, verified outputs `{_replication_ VARCHAR, _index_ BIGINT, responses LIST(STRUCT(...))}` and the
 * verify summary next to them.
 */

export const CLASSIFIER_RESPONSE = 'STRUCT(label VARCHAR, score DOUBLE, _response_index_ INTEGER)[]';
export const TEXT_RESPONSE = 'STRUCT(text VARCHAR, _response_index_ INTEGER)[]';

/** JSON rows → one Parquet object, typed by `columns` (DuckDB types), so the shapes do not depend on inference. */
async function putParquet(
  env: StepEnv,
  category: 'datasets' | 'outputs',
  key: string,
  rows: object[],
  columns: Record<string, string>,
) {
  const json = join(env.root, `${newId()}.json`);
  const parquet = `${json}.parquet`;
  await writeFile(json, rows.map((r) => JSON.stringify(r)).join('\n'));
  const spec = Object.entries(columns)
    .map(([name, type]) => `${quotedString(name)}: ${quotedString(type)}`)
    .join(', ');
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run(
      `COPY (SELECT * FROM read_json(${quotedString(json)}, format = 'newline_delimited', columns = {${spec}})) TO ${quotedString(parquet)} (FORMAT parquet)`,
    );
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  await env.store.put(category, key, await readFile(parquet));
  await rm(json);
  await rm(parquet);
}

export async function putDataset(
  env: StepEnv,
  rows: Record<string, unknown>[],
  columns: Record<string, string> = {
    _index_: 'BIGINT',
    text: 'VARCHAR',
    label: 'VARCHAR',
    split: 'VARCHAR',
  },
): Promise<string> {
  const id = newId();
  await putParquet(env, 'datasets', `${id}/data/part-00000.parquet`, rows, columns);
  return id;
}

export interface OutputRow {
  _replication_: string;
  _index_: number;
  responses: Record<string, unknown>[];
}

/** Verified outputs, split over `shards` files as verify may write them, and `summary.json`. */
export async function putOutputs(
  env: StepEnv,
  rows: OutputRow[],
  summary: Record<string, unknown>,
  opts: { responseType?: string; shards?: number } = {},
): Promise<string> {
  const id = newId();
  const shards = opts.shards ?? 1;
  const columns = {
    _replication_: 'VARCHAR',
    _index_: 'BIGINT',
    responses: opts.responseType ?? CLASSIFIER_RESPONSE,
  };
  for (let s = 0; s < shards; s++) {
    const part = rows.filter((_, i) => i % shards === s);
    await putParquet(
      env,
      'outputs',
      `${id}/verified/part-${String(s).padStart(5, '0')}.parquet`,
      part,
      columns,
    );
  }
  await env.store.put('outputs', `${id}/verified/summary.json`, JSON.stringify(summary));
  return id;
}

/** Classifier responses best first, as the demo classifier answers: [{label, score, _response_index_}]. */
export const ranked = (...labels: string[]) =>
  labels.map((label, i) => ({ label, score: 1 / (i + 2), _response_index_: i }));

export interface ReportArgs {
  /** Hide the store's local files, so the step downloads its inputs as it does from GCS. */
  remote?: boolean;
  dataset?: string;
  lineage?: unknown;
  history?: unknown;
  /** Extra raw argv, for malformed-option cases. */
  extra?: string[];
}

/** `dyffctl step report --id … --spec … --dataset … [--lineage …] [--history …]` against the env's store. */
export async function runReport(env: StepEnv, id: string, spec: unknown, args: ReportArgs): Promise<StepRun> {
  const argv = ['--id', id, '--spec', JSON.stringify(spec)];
  if (args.dataset !== undefined) argv.push('--dataset', args.dataset);
  if (args.lineage !== undefined) argv.push('--lineage', JSON.stringify(args.lineage));
  if (args.history !== undefined) argv.push('--history', JSON.stringify(args.history));
  argv.push(...(args.extra ?? []));
  const lines: string[] = [];
  const code = await runStepProgram('report', argv, {
    objectStore: args.remote ? withoutLocalFiles(env.store) : env.store,
    config: env.config,
    write: (l) => lines.push(l),
  });
  const last = lines.filter((l) => !l.startsWith(PROGRESS_PREFIX)).at(-1) ?? '';
  return { code, lines, last };
}

function withoutLocalFiles(store: ObjectStore): ObjectStore {
  const methods = ['put', 'get', 'getBuffer', 'stat', 'list', 'delete', 'append', 'sha256', 'uri'] as const;
  return Object.fromEntries(
    methods.map((m) => [m, (...a: unknown[]) => (store[m] as (...x: unknown[]) => unknown).apply(store, a)]),
  ) as unknown as ObjectStore;
}

export async function reportJson(env: StepEnv, id: string): Promise<ReportDocument> {
  return JSON.parse(
    (await env.store.getBuffer('reports', `${id}/report.json`)).toString('utf8'),
  ) as ReportDocument;
}

export async function reportHtml(env: StepEnv, id: string): Promise<string> {
  return (await env.store.getBuffer('reports', `${id}/index.html`)).toString('utf8');
}

export const REP_A = 'a'.repeat(32);
export const REP_B = 'b'.repeat(32);

/**
 * Ten test rows whose answers are worked out by hand (labels bird < cat < dog):
 *
 *   _index_  0   1   2   3   4   5   6   7    8    9   | 10 skipped | 11, 12 train
 *   truth    cat cat cat cat dog dog dog bird bird bird | cat        | cat, dog
 *   top-1    cat cat dog cat dog dog cat bird dog  bird | (none)     | dog, cat
 *   top-2    dog bird cat dog cat bird dog cat cat  dog |            | bird, bird
 *
 * Replication A: 7 of 10 correct, top-2 9 of 10. Confusion (rows truth, columns prediction, bird/cat/dog):
 * bird [2,0,1], cat [0,3,1], dog [0,1,2]. Replication B differs only at _index_ 8, which it gets right (8 of 10).
 */
export const CLASSIFIER_CASES: [number, string, string[]][] = [
  [0, 'cat', ['cat', 'dog']],
  [1, 'cat', ['cat', 'bird']],
  [2, 'cat', ['dog', 'cat']],
  [3, 'cat', ['cat', 'dog']],
  [4, 'dog', ['dog', 'cat']],
  [5, 'dog', ['dog', 'bird']],
  [6, 'dog', ['cat', 'dog']],
  [7, 'bird', ['bird', 'cat']],
  [8, 'bird', ['dog', 'cat']],
  [9, 'bird', ['bird', 'dog']],
];

export async function classifierFixture(env: StepEnv, opts: { replications?: 1 | 2 } = {}) {
  const dataset = await putDataset(env, [
    ...CLASSIFIER_CASES.map(([i, label]) => ({ _index_: i, text: `item ${i}`, label, split: 'test' })),
    { _index_: 10, text: 'item 10', label: 'cat', split: 'test' },
    { _index_: 11, text: 'item 11', label: 'cat', split: 'train' },
    { _index_: 12, text: 'item 12', label: 'dog', split: 'train' },
  ]);
  const rows: OutputRow[] = [];
  for (const rep of opts.replications === 2 ? [REP_A, REP_B] : [REP_A]) {
    for (const [i, , answers] of CLASSIFIER_CASES) {
      const fixed = rep === REP_B && i === 8 ? ['bird', 'cat'] : answers;
      rows.push({ _replication_: rep, _index_: i, responses: ranked(...fixed) });
    }
    rows.push({ _replication_: rep, _index_: 11, responses: ranked('dog', 'bird') });
    rows.push({ _replication_: rep, _index_: 12, responses: ranked('cat', 'bird') });
  }
  // Verify kept a row for the skipped item with no responses; it must count as neither right nor wrong.
  rows.push({ _replication_: REP_A, _index_: 10, responses: [] });
  const skipped = [
    { _index_: 10, _replication_: REP_A, status: 400, message: 'bad request: <input too long>' },
  ];
  const evaluation = await putOutputs(
    env,
    rows,
    { expected: 13, written: rows.length, duplicatesRemoved: 0, missing: 0, skipped, replications: 1 },
    { shards: 2 },
  );
  return { dataset, evaluation };
}
