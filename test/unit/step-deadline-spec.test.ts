import { describe, expect, it } from 'vitest';
import { parseManifest, parsePipelineManifest } from '../../src/domain/manifest.js';
import { MAX_STEP_DEADLINE_SECONDS } from '../../src/domain/specs.js';

const dataset = (deadline: string) => `
kind: Dataset
account: public
spec:
  source: { kind: url, url: "https://example.org/data.csv" }
  deadlineSeconds: ${deadline}
`;

describe('a spec override of the step deadline (deadlineSeconds)', () => {
  it('is kept on the spec of each step-bearing kind and of each pipeline stage', () => {
    expect(parseManifest(dataset('90')).spec).toMatchObject({ deadlineSeconds: 90 });
    const p = parsePipelineManifest(`
kind: Pipeline
account: public
spec:
  dataset: { source: { kind: local, path: /data }, deadlineSeconds: 60 }
  model: { source: { kind: local, path: /model }, deadlineSeconds: 61 }
  service: { runner: { kind: standalone }, deadlineSeconds: 62 }
  evaluation: { deadlineSeconds: 63 }
  report: { rubric: classification.accuracy, deadlineSeconds: 64 }
`);
    expect(
      [p.spec.dataset, p.spec.model, p.spec.service, p.spec.evaluation, p.spec.report].map(
        (s) => s.deadlineSeconds,
      ),
    ).toEqual([60, 61, 62, 63, 64]);
  });

  it.each([
    ['0', 'must be at least 1'],
    ['1.5', 'expected a whole number of seconds'],
    [String(MAX_STEP_DEADLINE_SECONDS + 1), `must be at most ${MAX_STEP_DEADLINE_SECONDS}`],
    ['"soon"', 'expected a whole number of seconds'],
  ])('refuses %s, naming the field', (value, message) => {
    expect(() => parseManifest(dataset(value), 'ds.yaml')).toThrow(/spec\.deadlineSeconds/);
    expect(() => parseManifest(dataset(value), 'ds.yaml')).toThrow(message);
  });
});
