import type { BenchmarkCell } from '../../domain/benchmark.js';
import { esc, pct, px } from './format.js';

/** Tableau 10's first colours: one per corruption, distinct for the colour-blind in pairs. */
const COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1'];

export const colourOf = (i: number): string => COLOURS[i % COLOURS.length]!;

/** A cell's own report page, relative to the benchmark's page: both live under `reports/`. */
export const reportHref = (reportId: string): string => `../${encodeURIComponent(reportId)}/index.html`;

const scored = (c: BenchmarkCell): c is BenchmarkCell & { value: number } =>
  c.status === 'Done' && typeof c.value === 'number';

/**
 * The metric by severity, one line per corruption, each starting from the clean dataset at severity 0, and the
 * clean value as a dashed reference line. A fixed 0–1 axis: a fall reads as large as it is. Every point links to
 * its evaluation's own report; a failed cell has no point, and its line skips it.
 */
export function robustnessSvg(metric: string, corruptions: string[], cells: BenchmarkCell[]): string {
  const [width, height, left, right, top, bottom] = [760, 320, 56, 170, 20, 48];
  const maxSeverity = Math.max(1, ...cells.map((c) => c.severity));
  const x = (s: number) => left + (s / maxSeverity) * (width - left - right);
  const y = (v: number) => top + (1 - v) * (height - top - bottom);
  const clean = cells.find((c) => c.severity === 0);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart robustness" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${esc(metric)} by corruption and severity</title>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = t / 4;
    parts.push(
      `<line class="grid" x1="${left}" x2="${width - right}" y1="${px(y(v))}" y2="${px(y(v))}"/>`,
      `<text class="tick" x="${left - 6}" y="${px(y(v))}" text-anchor="end" dominant-baseline="middle">${pct(v, 0)}</text>`,
    );
  }
  for (let s = 0; s <= maxSeverity; s++) {
    parts.push(
      `<text class="tick" x="${px(x(s))}" y="${height - bottom + 18}" text-anchor="middle">${s === 0 ? 'clean' : s}</text>`,
    );
  }
  parts.push(
    `<text class="axis-title" x="${px((left + width - right) / 2)}" y="${height - 6}" text-anchor="middle">severity</text>`,
  );
  if (clean && scored(clean)) {
    parts.push(
      `<line class="clean-reference" x1="${left}" x2="${width - right}" y1="${px(y(clean.value))}" y2="${px(y(clean.value))}" stroke="#5f6368" stroke-dasharray="6 4"/>`,
      `<text class="legend" x="${width - right + 8}" y="${px(y(clean.value))}" dominant-baseline="middle">clean ${pct(clean.value)}</text>`,
    );
  }
  corruptions.forEach((name, i) => {
    const colour = colourOf(i);
    const line = [clean, ...cells.filter((c) => c.corruption === name)].filter(
      (c): c is BenchmarkCell & { value: number } => c !== undefined && scored(c),
    );
    parts.push(
      `<g class="series" data-corruption="${esc(name)}">`,
      `<polyline points="${line.map((c) => `${px(x(c.severity))},${px(y(c.value))}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="2.5"/>`,
    );
    for (const c of line.filter((p) => p.severity > 0)) parts.push(point(c, colour, x, y));
    parts.push(
      `<text class="legend" x="${width - right + 8}" y="${top + 14 + i * 18}" fill="${colour}">■ ${esc(name)}</text>`,
      '</g>',
    );
  });
  if (clean && scored(clean)) parts.push(point(clean, '#1b1b1b', x, y));
  parts.push('</svg>');
  return parts.join('\n');
}

function point(
  c: BenchmarkCell & { value: number },
  colour: string,
  x: (s: number) => number,
  y: (v: number) => number,
): string {
  const label = c.severity === 0 ? 'clean' : `${c.corruption} ${c.severity}`;
  const circle = `<circle class="point" data-corruption="${esc(c.corruption)}" data-severity="${c.severity}" data-value="${c.value}" cx="${px(x(c.severity))}" cy="${px(y(c.value))}" r="5" fill="${colour}"><title>${esc(label)}: ${pct(c.value)}</title></circle>`;
  return c.reportId ? `<a href="${esc(reportHref(c.reportId))}">${circle}</a>` : circle;
}
