import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../src/domain/ids.js';
import { replicationIds } from '../../../src/uuid5.js';
import type { VerifySummary } from '../../../src/steps/verify-outputs.js';
import type { EvalEnv, Fault, InferenceEndpoint } from './helpers/evaluation.js';
import {
  DEMO_SERVICE,
  DYFFCTL,
  createEvalEnv,
  outputRows,
  putDataset,
  readJson,
  startInferenceEndpoint,
} from './helpers/evaluation.js';

let env: EvalEnv;
let endpoint: InferenceEndpoint | undefined;

beforeEach(async () => {
  env = await createEvalEnv();
});
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
  await env.cleanup();
});

const texts = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    text: i % 3 === 0 ? `cheap pills ${i}` : `meeting notes ${i}`,
    split: i % 4 === 0 ? 'train' : 'test',
  }));

/**
 * Fast retries, so failure paths take milliseconds. The request timeout is generous: on a loaded machine a healthy
 * answer can take longer than a short one, and a timed-out request is sent again, which would change the counts
 * these tests check. Tests of timeouts set their own.
 */
const FAST_CLIENT = {
  transientErrorRetryDelaySeconds: 0.01,
  requestTimeoutSeconds: 10,
  transientErrorRetryLimit: 20,
};

function evaluationSpec(dataset: string, extra: Record<string, unknown> = {}) {
  return {
    dataset,
    inferenceService: newId(),
    replications: 2,
    workersPerReplica: 4,
    client: FAST_CLIENT,
    ...extra,
  };
}

const evaluateArgs = (id: string, spec: unknown, url: string, more: string[] = []) => [
  '--id',
  id,
  '--spec',
  JSON.stringify(spec),
  '--endpoint',
  url,
  '--service',
  JSON.stringify(DEMO_SERVICE),
  ...more,
];

const verify = (id: string, spec: unknown) =>
  env.step('verify-outputs', ['--id', id, '--spec', JSON.stringify(spec)]);
const summaryOf = (id: string) => readJson<VerifySummary>(env, 'outputs', `${id}/verified/summary.json`);

describe('evaluate + verify-outputs', () => {
  it('sends one request per row and replication and verifies complete, exploded outputs', async () => {
    endpoint = await startInferenceEndpoint();
    const rows = texts(40);
    const dataset = await putDataset(env, rows);
    const id = newId();
    const spec = evaluationSpec(dataset, { split: 'test' });
    const testRows = rows.map((r, i) => ({ ...r, i })).filter((r) => r.split === 'test');

    const run = await env.step('evaluate', evaluateArgs(id, spec, endpoint.url, ['--checkpoint-items', '8']));
    expect(run.code, run.lines.join('\n')).toBe(0);
    // The input pipeline sends only {text}: no label, split or _index_ reaches the model.
    expect(endpoint.received).toHaveLength(testRows.length * 2);
    expect(new Set(endpoint.received.map((b) => JSON.stringify(b)))).toEqual(
      new Set(testRows.map((r) => JSON.stringify({ text: r.text }))),
    );
    const lastProgress = run.lines.filter((l) => l.startsWith('::progress::')).at(-1)!;
    expect(JSON.parse(lastProgress.slice('::progress::'.length))).toMatchObject({
      done: 60,
      total: 60,
      unit: 'items',
      message: expect.stringMatching(/items\/s/) as string,
    });

    expect((await verify(id, spec)).code).toBe(0);
    expect(await summaryOf(id)).toMatchObject({
      expected: 60,
      written: 60,
      duplicatesRemoved: 0,
      missing: 0,
      skipped: 0,
      replications: 2,
    });
    const verified = await outputRows(env, id, 'verified');
    expect(new Set(verified.map((r) => r._replication_))).toEqual(new Set(replicationIds(id, 2)));
    const spamRow = verified.find((r) => r._index_ === 3)!;
    expect(spamRow.responses).toEqual([
      { label: 'spam', score: 0.9, _response_index_: 0 },
      { label: 'ham', score: 0.1, _response_index_: 1 },
    ]);
    // Sorted by replication, then index.
    const keys = verified.map((r) => `${r._replication_}:${String(r._index_).padStart(4, '0')}`);
    expect(keys).toEqual([...keys].sort());
  });

  it('rides out 429s, 500s, timeouts and cut connections: every output arrives', async () => {
    // About a fifth of the requests fail, by a counter so the run is reproducible.
    const faults: Record<number, Fault> = {
      1: { status: 429, retryAfter: '0' },
      2: { status: 500 },
      3: 'hang',
      4: 'reset',
    };
    endpoint = await startInferenceEndpoint((n) => (n % 5 === 0 ? faults[(n / 5) % 4 || 4] : undefined));
    const dataset = await putDataset(env, texts(30));
    const id = newId();
    const spec = evaluationSpec(dataset, { client: { ...FAST_CLIENT, requestTimeoutSeconds: 0.5 } });

    const run = await env.step('evaluate', evaluateArgs(id, spec, endpoint.url));
    expect(run.code, run.lines.join('\n')).toBe(0);
    // The endpoint served every kind of fault…
    expect(Object.keys(endpoint.faults).sort()).toEqual(['HTTP 429', 'HTTP 500', 'hang', 'reset']);
    // …and the client met each of them and retried: its structured progress counts them by kind. (A cut
    // connection reads ECONNRESET, EPIPE or "socket hang up" depending on timing; the count does not care.)
    const lastProgress = run.lines.filter((l) => l.startsWith('::progress::')).at(-1)!;
    const { retries } = JSON.parse(lastProgress.slice('::progress::'.length)) as {
      retries: Record<string, number>;
    };
    for (const kind of ['HTTP 429', 'HTTP 500', 'timeout', 'connection']) {
      expect(retries[kind], `${kind} in ${JSON.stringify(retries)}`).toBeGreaterThanOrEqual(1);
    }
    const servedFaults = Object.values(endpoint.faults).reduce((a, b) => a + b, 0);
    const metFailures = Object.values(retries).reduce((a, b) => a + b, 0);
    expect(metFailures).toBeGreaterThanOrEqual(servedFaults);
    expect((await verify(id, spec)).code).toBe(0);
    expect(await summaryOf(id)).toMatchObject({ expected: 60, written: 60, missing: 0 });
  });

  it('gives up after transientErrorRetryLimit failures in a row (exit 1, worth a retry later)', async () => {
    endpoint = await startInferenceEndpoint(() => ({ status: 503 }));
    const dataset = await putDataset(env, texts(5));
    const spec = evaluationSpec(dataset, { client: { ...FAST_CLIENT, transientErrorRetryLimit: 3 } });
    const run = await env.step('evaluate', evaluateArgs(newId(), spec, endpoint.url));
    expect(run.code).toBe(1);
    expect(run.last).toMatch(
      /^error: gave up after 4 transient errors in a row \(transientErrorRetryLimit 3\); last: _index_ \d+: HTTP 503/,
    );
  });

  it('skips bad requests under badRequestPolicy Skip and counts them in the summary', async () => {
    endpoint = await startInferenceEndpoint((_n, body) =>
      body.text?.endsWith(' 7') || body.text?.endsWith(' 11')
        ? { status: 400, body: '{"error":"too odd"}' }
        : undefined,
    );
    const dataset = await putDataset(env, texts(20));
    const id = newId();
    const spec = evaluationSpec(dataset, { client: { ...FAST_CLIENT, badRequestPolicy: 'Skip' } });

    expect((await env.step('evaluate', evaluateArgs(id, spec, endpoint.url))).code).toBe(0);
    const skipped = await readJson<{ items: { _index_: number; status: number; error: string }[] }>(
      env,
      'outputs',
      `${id}/skipped.json`,
    );
    expect(skipped.items.map((s) => s._index_).sort((a, b) => a - b)).toEqual([7, 7, 11, 11]);
    expect(skipped.items[0]).toMatchObject({ status: 400, error: '{"error":"too odd"}' });

    expect((await verify(id, spec)).code).toBe(0);
    expect(await summaryOf(id)).toMatchObject({ expected: 40, written: 36, skipped: 4, missing: 0 });
  });

  it('stops at a bad request under badRequestPolicy Abort (exit 2), naming the item and the answer', async () => {
    endpoint = await startInferenceEndpoint((_n, body) =>
      body.text === 'meeting notes 5' ? { status: 400, body: 'text too long' } : undefined,
    );
    const dataset = await putDataset(env, texts(12));
    const spec = evaluationSpec(dataset, { replications: 1 });
    const run = await env.step('evaluate', evaluateArgs(newId(), spec, endpoint.url));
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /^error: bad request: _index_ 5, _replication_ [0-9a-f]{32}: HTTP 400: text too long/,
    );
  });

  it('a 200 whose body the output pipeline cannot read is skipped or stops the step, naming the item', async () => {
    endpoint = await startInferenceEndpoint((_n, body) =>
      body.text === 'meeting notes 5' ? { status: 200, body: 'no json here' } : undefined,
    );
    const dataset = await putDataset(env, texts(12));
    const aborting = evaluationSpec(dataset, { replications: 1 });
    const run = await env.step('evaluate', evaluateArgs(newId(), aborting, endpoint.url));
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /^error: bad request: _index_ 5, _replication_ [0-9a-f]{32}: HTTP 200: the response is not JSON: no json here/,
    );

    const id = newId();
    const skipping = evaluationSpec(dataset, {
      replications: 1,
      client: { ...FAST_CLIENT, badRequestPolicy: 'Skip' },
    });
    expect((await env.step('evaluate', evaluateArgs(id, skipping, endpoint.url))).code).toBe(0);
    const skipped = await readJson<{ items: { _index_: number; status: number; error: string }[] }>(
      env,
      'outputs',
      `${id}/skipped.json`,
    );
    expect(skipped.items).toEqual([
      expect.objectContaining({ _index_: 5, status: 200, error: 'the response is not JSON: no json here' }),
    ]);
    expect((await verify(id, skipping)).code).toBe(0);
    expect(await summaryOf(id)).toMatchObject({ expected: 12, written: 11, skipped: 1, missing: 0 });
  });

  it('fails verification when outputs are missing, naming how many and which', async () => {
    endpoint = await startInferenceEndpoint();
    const dataset = await putDataset(env, texts(10));
    const id = newId();
    const spec = evaluationSpec(dataset, { replications: 1 });
    expect(
      (await env.step('evaluate', evaluateArgs(id, spec, endpoint.url, ['--checkpoint-items', '5']))).code,
    ).toBe(0);
    await env.store.delete('outputs', `${id}/data/part-00001.parquet`);

    const run = await verify(id, spec);
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /^error: 5 of 10 outputs missing, e\.g\. \(_index_ \d+, _replication_ [0-9a-f]{32}\)/,
    );
    const ignoring = { ...spec, client: { ...FAST_CLIENT, missingOutputPolicy: 'Ignore' } };
    expect((await verify(id, ignoring)).code).toBe(0);
    expect(await summaryOf(id)).toMatchObject({ expected: 10, written: 5, missing: 5 });
  });
});

describe('a client killed midway', () => {
  it('resends only what no checkpoint holds; verify keeps each pair exactly once', async () => {
    // The first 60 requests are answered; later ones hang until the client is gone, so the kill always lands
    // with answers outstanding, however fast or slow the machine.
    let answering = 60;
    endpoint = await startInferenceEndpoint((n) => (n > answering ? 'hang' : { delayMs: 10 }));
    const dataset = await putDataset(env, texts(150));
    const id = newId();
    const spec = evaluationSpec(dataset);
    const expected = 300;

    const child = spawn(
      process.execPath,
      [DYFFCTL, 'step', 'evaluate', ...evaluateArgs(id, spec, endpoint.url, ['--checkpoint-items', '10'])],
      {
        env: env.childEnv(),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = once(child, 'close');
    const lines = createInterface({ input: child.stdout });
    // Killed like a lost node: SIGKILL, right after its third checkpoint, with requests in flight.
    let parts = 0;
    await new Promise<void>((resolve) =>
      lines.on('line', (l) => l.startsWith('wrote data/part-') && ++parts === 3 && resolve()),
    );
    child.kill('SIGKILL');
    await exited;
    await endpoint.idle();
    answering = Infinity;

    const written = await outputRows(env, id, 'data');
    expect(written.length).toBeGreaterThanOrEqual(30);
    expect(written.length).toBeLessThan(expected);
    const firstRunRequests = endpoint.received.length;
    expect(firstRunRequests).toBeGreaterThan(written.length); // some answers died with the process

    const rerun = await env.step(
      'evaluate',
      evaluateArgs(id, spec, endpoint.url, ['--checkpoint-items', '10']),
    );
    expect(rerun.code, rerun.lines.join('\n')).toBe(0);
    expect(endpoint.received.length - firstRunRequests).toBe(expected - written.length);

    expect((await verify(id, spec)).code).toBe(0);
    const verified = await outputRows(env, id, 'verified');
    expect(verified).toHaveLength(expected);
    expect(new Set(verified.map((r) => `${r._replication_}:${r._index_}`)).size).toBe(expected);
    expect(await summaryOf(id)).toMatchObject({
      expected,
      written: expected,
      missing: 0,
      duplicatesRemoved: 0,
    });
  });
});

describe('checkpoints and duplicates', () => {
  it('reads back a part whose checkpoint was never written, instead of sending its items again', async () => {
    endpoint = await startInferenceEndpoint();
    const dataset = await putDataset(env, texts(20));
    const id = newId();
    const spec = evaluationSpec(dataset, { replications: 1 });
    const args = evaluateArgs(id, spec, endpoint.url, ['--checkpoint-items', '5']);
    expect((await env.step('evaluate', args)).code).toBe(0);
    // As if the client died between writing part 1 and its checkpoint, and before writing parts 2 and 3.
    await env.store.delete('outputs', `${id}/checkpoints/part-00001.json`);
    for (const seq of ['00002', '00003']) {
      await env.store.delete('outputs', `${id}/data/part-${seq}.parquet`);
      await env.store.delete('outputs', `${id}/checkpoints/part-${seq}.json`);
    }
    const before = endpoint.received.length;

    const rerun = await env.step('evaluate', args);
    expect(rerun.code, rerun.lines.join('\n')).toBe(0);
    expect(rerun.lines).toContain(
      'recovered the checkpoint of data/part-00001.parquet (5 outputs written before the client stopped)',
    );
    expect(endpoint.received.length - before).toBe(10);
    expect((await verify(id, spec)).code).toBe(0);
    expect(await summaryOf(id)).toMatchObject({ expected: 20, written: 20, duplicatesRemoved: 0 });
  });

  it('keeps one output per pair under Deduplicate and names a duplicated pair under Error', async () => {
    endpoint = await startInferenceEndpoint();
    const dataset = await putDataset(env, texts(10));
    const id = newId();
    const spec = evaluationSpec(dataset, { replications: 1 });
    expect(
      (await env.step('evaluate', evaluateArgs(id, spec, endpoint.url, ['--checkpoint-items', '4']))).code,
    ).toBe(0);
    // Two clients on one evaluation (or a copied part) leave the same pairs twice.
    await env.store.put(
      'outputs',
      `${id}/data/part-00009.parquet`,
      await env.store.getBuffer('outputs', `${id}/data/part-00000.parquet`),
    );

    expect((await verify(id, spec)).code).toBe(0);
    expect(await summaryOf(id)).toMatchObject({ expected: 10, written: 10, duplicatesRemoved: 4 });
    expect(await outputRows(env, id, 'verified')).toHaveLength(10);

    const strict = { ...spec, client: { ...FAST_CLIENT, duplicateOutputPolicy: 'Error' } };
    const run = await verify(id, strict);
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /^error: 4 \(_index_, _replication_\) pair\(s\) have more than one output \(duplicateOutputPolicy Error\), e\.g\. \(_index_ 0, _replication_ [0-9a-f]{32}\) ×2/,
    );
  });

  it('on a stop (SIGTERM) keeps the answers it has: exit 143, and a rerun sends only the rest', async () => {
    endpoint = await startInferenceEndpoint(() => ({ delayMs: 5 }));
    const dataset = await putDataset(env, texts(100));
    const id = newId();
    const spec = evaluationSpec(dataset);
    const args = evaluateArgs(id, spec, endpoint.url, ['--checkpoint-items', '25']);
    const stop = new AbortController();
    const first = await env.step('evaluate', args, {
      signal: stop.signal,
      onLine: (l) => l.startsWith('wrote data/part-00001') && stop.abort(new Error('stopped by SIGTERM')),
    });
    expect(first.code).toBe(143);
    expect(first.last).toBe(`error: evaluate ${id}: stopped by SIGTERM`);
    const written = (await outputRows(env, id, 'data')).length;
    // Answers that came in while part 1 was being written were collected, and written on the stop.
    expect(written).toBeGreaterThan(50);
    await endpoint.idle();
    const before = endpoint.received.length;

    expect((await env.step('evaluate', args)).code).toBe(0);
    expect(endpoint.received.length - before).toBe(200 - written);
    expect((await verify(id, spec)).code).toBe(0);
    expect(await summaryOf(id)).toMatchObject({ expected: 200, written: 200, duplicatesRemoved: 0 });
  });
});
