import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EvalEnv, InferenceEndpoint } from './helpers/evaluation.js';
import { DEMO_SERVICE, createEvalEnv, putDataset, startInferenceEndpoint } from './helpers/evaluation.js';
import { classifierFixture, runReport } from './helpers/report-fixtures.js';
import { createStepEnv, newId } from './helpers/step-env.js';

/** Each limit, hit by a real step: exit 2 (bad input) and a message that names the limit's setting. */
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

const rows = Array.from({ length: 6 }, (_, i) => ({ text: `meeting ${i}`, split: 'test' }));
const evaluate = (dataset: string, extra: Record<string, unknown>, url: string) =>
  env.step('evaluate', [
    '--id',
    newId(),
    '--spec',
    JSON.stringify({ dataset, inferenceService: newId(), replications: 1, workersPerReplica: 2, ...extra }),
    '--endpoint',
    url,
    '--service',
    JSON.stringify(DEMO_SERVICE),
  ]);

describe('evaluation bounds', () => {
  it('cuts off a response body larger than limits.maxResponseBytes: Abort stops, Skip skips the item', async () => {
    const huge = JSON.stringify({ predictions: [{ label: 'x'.repeat(64 * 1024), score: 1 }] });
    endpoint = await startInferenceEndpoint((n) => (n === 1 ? { status: 200, body: huge } : undefined));
    env.config.limits.maxResponseBytes = 16 * 1024;
    const dataset = await putDataset(env, rows);
    const abort = await evaluate(dataset, {}, endpoint.url);
    expect(abort.code, abort.lines.join('\n')).toBe(2);
    expect(abort.last).toMatch(/response body larger than 16384 bytes \(limits\.maxResponseBytes\)/);

    await endpoint.close();
    endpoint = await startInferenceEndpoint((n) => (n === 1 ? { status: 200, body: huge } : undefined));
    const skip = await evaluate(dataset, { client: { badRequestPolicy: 'Skip' } }, endpoint.url);
    expect(skip.code, skip.lines.join('\n')).toBe(0);
  });

  it('refuses replications × workersPerReplica above limits.maxConcurrentRequests before sending anything', async () => {
    endpoint = await startInferenceEndpoint();
    env.config.limits.maxConcurrentRequests = 8;
    const dataset = await putDataset(env, rows);
    const run = await evaluate(dataset, { replications: 3, workersPerReplica: 4 }, endpoint.url);
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /replications × spec\.workersPerReplica = 12 is more than limits\.maxConcurrentRequests \(8\)/,
    );
    expect(endpoint.received).toEqual([]);
  });
});

describe('report and ingest bounds', () => {
  it('refuses a classification report over more than limits.maxReportLabels labels', async () => {
    const steps = await createStepEnv();
    try {
      const { dataset, evaluation } = await classifierFixture(steps);
      steps.config.limits.maxReportLabels = 2;
      const run = await runReport(
        steps,
        newId(),
        { evaluation, rubric: 'classification.accuracy', parameters: { split: 'test' } },
        { dataset },
      );
      expect(run.code, run.lines.join('\n')).toBe(2);
      expect(run.last).toMatch(/3 distinct labels .* more than limits\.maxReportLabels \(2\)/);
    } finally {
      await steps.cleanup();
    }
  });

  it('refuses a catastrophic labelPattern before reading any file', async () => {
    const steps = await createStepEnv();
    try {
      const run = await steps.run('ingest-dataset', newId(), {
        ingest: { format: 'text-folders', text: { labelPattern: '^(a+)+$' } },
      });
      expect(run.code).toBe(2);
      expect(run.last).toMatch(/spec\.ingest\.text\.labelPattern: nested quantifiers/);
    } finally {
      await steps.cleanup();
    }
  });
});
