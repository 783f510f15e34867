import { describe, expect, it } from 'vitest';
import type { BenchmarkCell, BenchmarkReportDocument } from '../../src/domain/benchmark.js';
import { robustnessHtml } from '../../src/steps/report/robustness-html.js';

const id = (n: number) => n.toString(16).padStart(32, '0');

const cells: BenchmarkCell[] = [
  { corruption: 'clean', severity: 0, status: 'Done', value: 0.96, reportId: id(1), evaluationId: id(11) },
  {
    corruption: 'brightness',
    severity: 1,
    status: 'Done',
    value: 0.93,
    reportId: id(2),
    evaluationId: id(12),
  },
  {
    corruption: 'brightness',
    severity: 3,
    status: 'Done',
    value: 0.81,
    reportId: id(3),
    evaluationId: id(13),
  },
  {
    corruption: 'gaussian_blur',
    severity: 1,
    status: 'Done',
    value: 0.875,
    reportId: id(4),
    evaluationId: id(14),
  },
  {
    corruption: 'gaussian_blur',
    severity: 3,
    status: 'Failed',
    evaluationId: id(15),
    message: 'evaluation: evaluate failed <exit 2>',
  },
];

const doc: BenchmarkReportDocument = {
  benchmarkId: id(99),
  name: 'digits <b>robustness</b>',
  account: 'public',
  createdAt: '2026-12-05T15:00:00.000Z',
  metric: 'accuracy',
  split: 'test',
  modelId: id(7),
  inferenceServiceId: id(8),
  cells,
};

/** Every element carrying `data-*` cell attributes: the chart's points and the tables' values. */
function marked(html: string, tag: string) {
  const re = new RegExp(
    `<${tag} class="(?:point|value)" data-corruption="([^"]+)" data-severity="(\\d)" data-value="([^"]+)"`,
    'g',
  );
  return [...html.matchAll(re)].map((m) => ({
    corruption: m[1],
    severity: Number(m[2]),
    value: Number(m[3]),
  }));
}

describe('the report across corruptions', () => {
  const html = robustnessHtml(doc);

  it('plots every scored cell, clean at severity 0, each point linked to its own report', () => {
    const points = marked(html, 'circle');
    expect(points).toEqual([
      { corruption: 'brightness', severity: 1, value: 0.93 },
      { corruption: 'brightness', severity: 3, value: 0.81 },
      { corruption: 'gaussian_blur', severity: 1, value: 0.875 },
      { corruption: 'clean', severity: 0, value: 0.96 },
    ]);
    for (const c of cells.filter((c) => c.reportId))
      expect(html).toMatch(
        new RegExp(
          `<a href="\\.\\./${c.reportId}/index\\.html"><circle class="point" data-corruption="${c.corruption}" data-severity="${c.severity}"`,
        ),
      );
    // One line per corruption, each starting from the clean value; the failed severity has no point.
    expect(html.match(/<g class="series" data-corruption="([^"]+)">/g)).toHaveLength(2);
    expect(html).toContain('class="clean-reference"');
    expect(html).toContain('clean 96.0%');
  });

  it('tables every value as a percentage linked to its report, and the failed cell with its reason', () => {
    const values = marked(html, 'span');
    // The matrix (by corruption and severity), then the list of every evaluation.
    expect(values.filter((v) => v.corruption !== 'clean')).toHaveLength(6);
    expect(values).toContainEqual({ corruption: 'clean', severity: 0, value: 0.96 });
    expect(html).toContain(
      `<a href="../${id(3)}/index.html"><span class="value" data-corruption="brightness" data-severity="3" data-value="0.81">81.0%</span></a>`,
    );
    expect(html).toContain('87.5%');
    expect(html).toContain('-15.0%'); // brightness 3 against clean
    expect(html).toMatch(
      /<span class="bad" data-corruption="gaussian_blur" data-severity="3" title="evaluation: evaluate failed &lt;exit 2&gt;">failed<\/span>/,
    );
    expect(html).not.toContain(`href="../undefined`);
    expect(html).toContain('<div class="value">96.0%</div>'); // clean card
    expect(html).toContain(`<div class="value">${(((0.93 + 0.81 + 0.875) / 3) * 100).toFixed(1)}%</div>`);
  });

  it('escapes names and messages from users', () => {
    expect(html).not.toContain('<b>robustness</b>');
    expect(html).toContain('digits &lt;b&gt;robustness&lt;/b&gt;');
    expect(html).not.toMatch(/<script/i);
  });
});
