import { describe, expect, it } from 'vitest';
import { configEnv, loadConfig } from '../../src/config.js';
import { parseManifest } from '../../src/domain/manifest.js';
import { checkGlob, checkRegex } from '../../src/steps/patterns.js';

const NO_FILE = { DYFF_CONFIG: '/nonexistent/dyff.config.yaml' };

describe('user patterns', () => {
  it('refuses regexes that backtrack catastrophically, back-references and over-long ones, naming the field', () => {
    for (const bad of ['^(a+)+$', '(x|y*)*z', '(\\w+\\s?){2,}$', '([a-z]*)+']) {
      expect(() => checkRegex(bad, 'spec.ingest.text.labelPattern', 256), bad).toThrow(
        /spec\.ingest\.text\.labelPattern: nested quantifiers/,
      );
    }
    expect(() => checkRegex('(a)\\1', 'f', 256)).toThrow(/f: back-references/);
    expect(() => checkRegex('a'.repeat(300), 'f', 256)).toThrow(
      /f: 300 characters is more than limits\.maxPatternLength \(256\)/,
    );
    // The documented way of folding numbered folders stays allowed.
    expect(() => checkRegex('^(.*?)(-\\d+)?$', 'f', 256)).not.toThrow();
  });

  it('refuses globs with too many wildcards or too long', () => {
    expect(() => checkGlob('*a*a*a*a*a*a*a*a*a*b', 'spec.source.include', 256)).toThrow(
      /spec\.source\.include: 10 wildcards; at most 8/,
    );
    expect(() => checkGlob('**/*.csv', 'spec.source.include', 256)).not.toThrow();
    expect(() => checkGlob(`${'x'.repeat(20)}*`, 'g', 10)).toThrow(/limits\.maxPatternLength \(10\)/);
  });
});

describe('limits in the configuration', () => {
  it('has sane defaults and reaches step processes through DYFF_LIMITS, single variables winning', () => {
    const config = loadConfig({}, NO_FILE);
    expect(config.limits).toMatchObject({
      maxResponseBytes: 16 * 1024 ** 2,
      maxConcurrentRequests: 256,
      maxReportLabels: 1000,
      maxPatternLength: 256,
      duckdbMemoryLimit: '2GB',
      duckdbMaxTempSize: '20GB',
    });
    const tuned = loadConfig({ limits: { maxReportLabels: 7, duckdbMemoryLimit: '512MB' } }, NO_FILE);
    const inStep = loadConfig({}, { ...NO_FILE, ...configEnv(tuned) });
    expect(inStep.limits).toEqual(tuned.limits);
    const both = loadConfig({}, { ...NO_FILE, DYFF_LIMITS: '{"maxFileBytes": 5}', DYFF_MAX_FILE_BYTES: '9' });
    expect(both.limits.maxFileBytes).toBe(9);
    expect(() => loadConfig({}, { ...NO_FILE, DYFF_LIMITS: 'nope' })).toThrow(
      /DYFF_LIMITS: expected a JSON object/,
    );
    expect(() => loadConfig({ limits: { duckdbMemoryLimit: 'lots' } }, NO_FILE)).toThrow(
      /limits\.duckdbMemoryLimit: expected a size like 2GB/,
    );
  });
});

describe('metadata sizes', () => {
  const manifest = (metadata: string) => `
kind: Evaluation
account: public
metadata: ${metadata}
spec: { dataset: ${'a'.repeat(32)}, inferenceService: ${'b'.repeat(32)} }
`;
  it('refuses over-long documentation, annotation values and too many annotations, naming the field', () => {
    expect(() => parseManifest(manifest(`{ documentation: "${'d'.repeat(70_000)}" }`))).toThrow(
      /metadata\.documentation: longer than 65536/,
    );
    expect(() => parseManifest(manifest(`{ annotations: { a: "${'v'.repeat(5000)}" } }`))).toThrow(
      /metadata\.annotations\.a: longer than 4096/,
    );
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(() => parseManifest(manifest(`{ annotations: ${JSON.stringify(many)} }`))).toThrow(
      /metadata\.annotations: more than 64 annotations/,
    );
    expect(() => parseManifest(manifest('{ documentation: "fine", annotations: { a: b } }'))).not.toThrow();
  });
});
