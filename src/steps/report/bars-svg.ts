import { clip, esc, px, textWidth } from './format.js';
import type { ClassMetrics } from './types.js';

export const MAX_BAR_CLASSES = 30;

const SERIES = [
  { key: 'precision', name: 'precision', color: '#4e79a7' },
  { key: 'recall', name: 'recall', color: '#f28e2b' },
  { key: 'f1', name: 'F1', color: '#59a14f' },
] as const;

/**
 * Per-class precision, recall and F1 as grouped horizontal bars on a shared 0–1 axis, most supported classes
 * first when there are too many to show.
 */
export function classBarsSvg(perClass: ClassMetrics[]): { svg: string; shown: number } {
  const classes = [...perClass].sort((a, b) => b.support - a.support).slice(0, MAX_BAR_CLASSES);
  classes.sort((a, b) => perClass.indexOf(a) - perClass.indexOf(b));
  const bar = 11;
  const group = bar * SERIES.length + 12;
  const left = 16 + Math.max(40, ...classes.map((c) => textWidth(clip(c.label, 24))));
  const plot = 460;
  const top = 34;
  const width = left + plot + 60;
  const height = top + group * classes.length + 24;
  const x = (v: number) => left + v * plot;

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart class-bars" role="img" width="${px(width)}" height="${px(height)}" viewBox="0 0 ${px(width)} ${px(height)}">`,
    `<title>Precision, recall and F1 per class</title>`,
  ];
  SERIES.forEach((s, i) => {
    const lx = left + i * 110;
    parts.push(
      `<rect x="${lx}" y="6" width="12" height="12" fill="${s.color}"/><text class="legend" x="${lx + 18}" y="16">${s.name}</text>`,
    );
  });
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<line class="grid" x1="${px(x(t))}" x2="${px(x(t))}" y1="${top - 4}" y2="${px(height - 20)}"/>`,
      `<text class="tick" x="${px(x(t))}" y="${px(height - 6)}" text-anchor="middle">${t}</text>`,
    );
  }
  classes.forEach((c, g) => {
    const y0 = top + g * group;
    parts.push(
      `<text class="tick" x="${px(left - 8)}" y="${px(y0 + (bar * SERIES.length) / 2)}" text-anchor="end" dominant-baseline="middle"><title>${esc(c.label)}</title>${esc(clip(c.label, 24))}</text>`,
    );
    SERIES.forEach((s, i) => {
      const v = c[s.key];
      const y = y0 + i * bar;
      parts.push(
        `<g class="bar bar-${s.key}" data-label="${esc(c.label)}" data-value="${v}">` +
          `<rect x="${left}" y="${px(y)}" width="${px(v * plot)}" height="${bar - 2}" fill="${s.color}"/>` +
          `<text class="value" x="${px(x(v) + 4)}" y="${px(y + bar / 2)}" dominant-baseline="central">${v.toFixed(2)}</text>` +
          `<title>${esc(c.label)} ${s.name}: ${v.toFixed(3)}</title></g>`,
      );
    });
  });
  parts.push('</svg>');
  return { svg: parts.join('\n'), shown: classes.length };
}
