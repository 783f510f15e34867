import { describe, expect, it } from 'vitest';
import { DyffError } from '../../src/domain/errors.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';

const ok = `
kind: Pipeline
account: public
spec:
  dataset: { source: { kind: url, url: "https://example.org/d.csv" } }
  model: { source: { kind: huggingFaceHub, repoID: org/model } }
  service: { runner: { kind: openai, endpoint: "https://llm.example.org" } }
  evaluation: { replications: 2, client: { badRequestPolicy: Skip } }
  report: { rubric: classification.accuracy }
`;

function errorOf(text: string): string {
  try {
    parsePipelineManifest(text, 'pipeline.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(DyffError);
    return (err as Error).message;
  }
  throw new Error('expected the manifest to be refused');
}

describe('parsePipelineManifest', () => {
  it('accepts a valid pipeline and fills the defaults Dyff has', () => {
    const m = parsePipelineManifest(ok);
    expect(m.spec.model.source).toMatchObject({
      kind: 'huggingFaceHub',
      repoID: 'org/model',
      revision: 'main',
    });
    expect(m.spec.evaluation).toMatchObject({ replications: 2, workersPerReplica: 4 });
    expect(m.spec.evaluation.client).toMatchObject({
      badRequestPolicy: 'Skip',
      requestTimeoutSeconds: 30,
      transientErrorRetryLimit: 120,
    });
    expect(m.spec.concurrencyQuota).toBe(4);
  });

  it.each([
    ['wrong kind', ok.replace('kind: Pipeline', 'kind: Dataset'), /kind: expected Pipeline/],
    [
      'a request id (creates of entity kinds only)',
      ok.replace('account: public', 'account: public\nmetadata: { requestId: run-1 }'),
      /metadata\.requestId: not supported for kind Pipeline/,
    ],
    ['missing model', ok.replace(/ {2}model: .*\n/, ''), /spec\.model: required/],
    [
      'bad Hub repo id',
      ok.replace('repoID: org/model', 'repoID: "not a repo"'),
      /spec\.model\.source\.repoID: expected owner\/name/,
    ],
    [
      'unknown model source',
      ok.replace('kind: huggingFaceHub, repoID: org/model', 'kind: s3'),
      /spec\.model\.source\.kind/,
    ],
    [
      'empty URL list',
      ok.replace('kind: huggingFaceHub, repoID: org/model', 'kind: urls, urls: []'),
      /spec\.model\.source\.urls/,
    ],
    ['unknown runner', ok.replace('kind: openai', 'kind: bentoml'), /spec\.service\.runner\.kind/],
    [
      'runner endpoint not a URL',
      ok.replace('"https://llm.example.org"', 'llm'),
      /spec\.service\.runner\.endpoint: expected http\(s\) URL/,
    ],
    ['zero replications', ok.replace('replications: 2', 'replications: 0'), /spec\.evaluation\.replications/],
    [
      'fractional workers',
      ok.replace('replications: 2,', 'replications: 2, workersPerReplica: 1.5,'),
      /spec\.evaluation\.workersPerReplica/,
    ],
    [
      'unknown bad-request policy',
      ok.replace('badRequestPolicy: Skip', 'badRequestPolicy: Retry'),
      /spec\.evaluation\.client\.badRequestPolicy/,
    ],
    [
      'negative timeout',
      ok.replace('badRequestPolicy: Skip', 'requestTimeoutSeconds: -1'),
      /spec\.evaluation\.client\.requestTimeoutSeconds/,
    ],
    ['unknown rubric', ok.replace('classification.accuracy', 'classification.magic'), /spec\.report\.rubric/],
    [
      'k of zero',
      ok.replace(
        'rubric: classification.accuracy',
        'rubric: classification.topKAccuracy, parameters: { k: 0 }',
      ),
      /spec\.report\.parameters\.k/,
    ],
    [
      'unknown report field',
      ok.replace('rubric: classification.accuracy', 'rubric: classification.accuracy, evaluation: abc'),
      /spec\.report: .*evaluation/,
    ],
    [
      'unknown output adapter',
      ok.replace(
        'endpoint: "https://llm.example.org" }',
        'endpoint: "https://llm.example.org" }, interface: { outputPipeline: [{ kind: Flatten, configuration: {} }] }',
      ),
      /spec\.service\.interface\.outputPipeline\.0\.kind/,
    ],
    ['quota of zero', `${ok}  concurrencyQuota: 0\n`, /spec\.concurrencyQuota/],
  ])('%s → a clear error naming the field', (_name, text, pattern) => {
    expect(errorOf(text)).toMatch(pattern);
  });
});
