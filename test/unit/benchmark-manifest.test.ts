import { describe, expect, it } from 'vitest';
import { benchmarkCells } from '../../src/domain/benchmark.js';
import { parseBenchmarkManifest } from '../../src/domain/benchmark-manifest.js';

const manifest = (corruptions: string) => `
kind: Benchmark
account: public
metadata: { name: digits }
spec:
  dataset: { source: { kind: local, path: ./digits }, ingest: { format: image-folders } }
  model: { source: { kind: local, path: ./mlp } }
  service: { runner: { kind: standalone } }
  evaluation: { split: test }
  report: { rubric: classification.accuracy, parameters: { split: test } }
  corruptions: ${corruptions}
`;

describe('kind: Benchmark manifests', () => {
  it('parses the corruptions and orders the cells clean first, then each corruption by severity', () => {
    const m = parseBenchmarkManifest(
      manifest('[{ name: contrast, severities: [5, 1, 3] }, { name: brightness, severities: [2] }]'),
    );
    expect(m.spec.parallelism).toBe(4);
    expect(benchmarkCells(m.spec).map((c) => `${c.corruption}/${c.severity}`)).toEqual([
      'clean/0',
      'contrast/1',
      'contrast/3',
      'contrast/5',
      'brightness/2',
    ]);
  });

  it('names every problem by its path', () => {
    const bad = () =>
      parseBenchmarkManifest(
        manifest('[{ name: fog, severities: [1] }, { name: contrast, severities: [0, 6, 6] }]'),
        'b.yaml',
      );
    expect(bad).toThrow(/b\.yaml: invalid manifest/);
    expect(bad).toThrow(/spec\.corruptions\.0\.name: /);
    expect(bad).toThrow(/spec\.corruptions\.1\.severities\.0: /);
    expect(bad).toThrow(/spec\.corruptions\.1\.severities\.1: /);
    expect(bad).toThrow(/spec\.corruptions\.1\.severities: each severity once/);
    expect(() => parseBenchmarkManifest(manifest('[]'))).toThrow(/spec\.corruptions: /);
    expect(() =>
      parseBenchmarkManifest(
        manifest('[{ name: contrast, severities: [1] }, { name: contrast, severities: [2] }]'),
      ),
    ).toThrow(/spec\.corruptions: each corruption once/);
    expect(() => parseBenchmarkManifest('kind: Pipeline\naccount: a\nspec: {}', 'p.yaml')).toThrow(
      'p.yaml: kind: expected Benchmark',
    );
  });
});
