import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { BenchmarkReportDocument } from '../../src/domain/benchmark.js';
import { testConfig } from '../support/temporal.js';
import { cliEnv, run } from '../support/worker-process.js';
import { startBrowser } from './steps/helpers/browser.js';
import { chromiumPresent } from './steps/helpers/chromium.js';

/*
 * Acceptance of the image benchmark on the embedded default (`npm run test:benchmark`, a few minutes: too long for
 * `npm test`, whose share is test/workflows/benchmark-workflow.test.ts and the page's unit tests):
 * `dyffctl benchmark demo` as a user runs it after the quick start (MNIST digits as PNG folders, the dataset, the
 * MLP trained on its train split, then examples/mnist-benchmark.yaml: four corruptions at severities 1, 3 and 5),
 * then the numbers read back from benchmark.json and from the report across corruptions opened in headless
 * Chromium. The digits are a subset of the mnist package: DYFF_BENCHMARK_TRAIN / DYFF_BENCHMARK_TEST images per
 * digit, 60 and 20 by default (200 test images per cell).
 */
const EXAMPLE = resolve(import.meta.dirname, '../../examples/mnist-benchmark.yaml');
const TRAIN = process.env.DYFF_BENCHMARK_TRAIN ?? '60';
const TEST = process.env.DYFF_BENCHMARK_TEST ?? '20';
const SEVERITIES = [1, 3, 5];
const CORRUPTIONS = ['brightness', 'contrast', 'gaussian_noise', 'gaussian_blur'];
const hasChromium = await chromiumPresent();

let config: Config;
let cleanup: () => Promise<void>;
let demo: { code: number | null; stdout: string; stderr: string };

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  demo = await run(
    ['benchmark', 'demo', '--train-per-digit', TRAIN, '--test-per-digit', TEST, '--file', EXAMPLE],
    cliEnv(config),
  );
}, 600_000);

afterAll(async () => {
  await cleanup?.();
});

interface Point {
  corruption: string;
  severity: number;
  value: number;
  href: string;
}

/**
 * Falling with severity: each severity at most the milder one (or the clean value) plus one standard error of an
 * accuracy over the test images (a mild blur may score a few images more than clean by chance), and the worst
 * clearly below both the mildest and the clean value.
 */
function expectFalling(name: string, clean: number, series: number[]): void {
  expect(series, name).toHaveLength(SEVERITIES.length);
  const n = Number(TEST) * 10;
  const noise = Math.sqrt((clean * (1 - clean)) / n);
  const say = `${name}: ${series.join(', ')} after clean ${clean}`;
  let previous = clean;
  for (const v of series) {
    expect(v, say).toBeLessThanOrEqual(previous + noise);
    previous = v;
  }
  expect(series.at(-1)!, say).toBeLessThan(clean - 0.05);
  expect(series.at(-1)!, say).toBeLessThan(series[0]! - 0.05);
}

const pagePath = () => /^report across corruptions: (.*)$/m.exec(demo.stdout)![1]!;
const trainedAccuracy = () => Number(/test accuracy ([\d.]+)% on/.exec(demo.stderr)![1]) / 100;

describe('the image benchmark, one command on the embedded default', () => {
  it('dyffctl benchmark demo trains the model, runs every cell and prints where the report across corruptions is', () => {
    expect(demo.code, `${demo.stdout}\n${demo.stderr}`).toBe(0);
    expect(demo.stderr).toMatch(new RegExp(`test accuracy [\\d.]+% on ${Number(TEST) * 10}`));
    expect(demo.stdout).toMatch(/^benchmark [0-9a-f]{32}: Complete$/m);
    const cells = demo.stdout.match(
      /^ {2}(clean|brightness|contrast|gaussian_noise|gaussian_blur) .* Done /gm,
    );
    expect(cells).toHaveLength(1 + CORRUPTIONS.length * SEVERITIES.length);
    expect(demo.stdout).toMatch(/^report across corruptions: .*\/reports\/[0-9a-f]{32}\/index\.html$/m);
  });

  it('benchmark.json beside the page: the clean accuracy is the model on the test split, and each corruption falls with severity', async () => {
    const doc = JSON.parse(
      await readFile(pagePath().replace(/index\.html$/, 'benchmark.json'), 'utf8'),
    ) as BenchmarkReportDocument;
    const clean = doc.cells.find((c) => c.severity === 0)!;
    expect(clean.value).toBeCloseTo(trainedAccuracy(), 2);
    expect(clean.value).toBeGreaterThan(0.6);
    const table: Record<string, (number | null | undefined)[]> = { clean: [clean.value] };
    for (const name of CORRUPTIONS) {
      const series = doc.cells.filter((c) => c.corruption === name).sort((a, b) => a.severity - b.severity);
      expect(series.map((c) => c.severity)).toEqual(SEVERITIES);
      table[name] = series.map((c) => c.value);
      expectFalling(
        name,
        clean.value!,
        series.map((c) => c.value!),
      );
    }
    console.log(`accuracy by corruption and severity: ${JSON.stringify(table)}`);

    // The page plots the same numbers, each point linking to a report whose own report.json has that accuracy.
    const html = await readFile(pagePath(), 'utf8');
    const points = [
      ...html.matchAll(
        /<a href="([^"]+)"><circle class="point" data-corruption="([^"]+)" data-severity="(\d)" data-value="([^"]+)"/g,
      ),
    ];
    expect(points).toHaveLength(doc.cells.length);
    for (const [, href, corruption, severity, value] of points) {
      const cell = doc.cells.find((c) => c.corruption === corruption && c.severity === Number(severity))!;
      expect(Number(value)).toBe(cell.value);
      expect(href).toBe(`../${cell.reportId}/index.html`);
      const report = JSON.parse(
        await readFile(resolve(pagePath(), '..', href!.replace(/index\.html$/, 'report.json')), 'utf8'),
      ) as { metrics: { accuracy: number } };
      expect(report.metrics.accuracy).toBe(cell.value);
    }
  });

  it.skipIf(!hasChromium)(
    'the page shows the clean accuracy of the model on the test split, and accuracy falling with severity for each corruption, each point linked to its own report',
    async () => {
      const page = pagePath();
      const trained = trainedAccuracy();
      let browser: Browser | undefined;
      try {
        browser = await startBrowser();
        const tab = await browser.newPage();
        await tab.goto(`file://${page}`, { waitUntil: 'load' });
        const clean = await tab.$eval('#clean .value', (e) => e.textContent);
        const points: Point[] = await tab.$$eval('svg.robustness a', (links) =>
          links.map((a) => {
            const c = a.querySelector('circle.point')!;
            return {
              corruption: c.getAttribute('data-corruption')!,
              severity: Number(c.getAttribute('data-severity')),
              value: Number(c.getAttribute('data-value')),
              href: a.getAttribute('href')!,
            };
          }),
        );
        const cleanPoint = points.find((p) => p.severity === 0)!;
        // The clean cell is the model on the test split: what the training script measured on the same images.
        expect(cleanPoint.value).toBeCloseTo(trained, 2);
        expect(clean).toBe(`${(cleanPoint.value * 100).toFixed(1)}%`);
        expect(cleanPoint.value).toBeGreaterThan(0.6);
        for (const name of CORRUPTIONS) {
          const series = points.filter((p) => p.corruption === name).sort((a, b) => a.severity - b.severity);
          expectFalling(
            name,
            cleanPoint.value,
            series.map((p) => p.value),
          );
        }
        // The tables show the same numbers the chart plots.
        const tabled = await tab.$$eval('table.matrix span.value', (spans) =>
          spans.map(
            (s) => `${s.getAttribute('data-corruption')}/${s.getAttribute('data-severity')}=${s.textContent}`,
          ),
        );
        expect(tabled.sort()).toEqual(
          points
            .filter((p) => p.severity > 0)
            .map((p) => `${p.corruption}/${p.severity}=${(p.value * 100).toFixed(1)}%`)
            .sort(),
        );
        // Every point opens the report of its own evaluation, whose accuracy is the one plotted.
        for (const p of points) {
          await tab.goto(new URL(p.href, `file://${page}`).href, { waitUntil: 'load' });
          const headline = await tab.$eval('.card.headline .value', (e) => e.textContent);
          expect(headline, `${p.corruption} ${p.severity}`).toBe(`${(p.value * 100).toFixed(1)}%`);
        }
      } finally {
        await browser?.close();
      }
    },
  );
});
