import { blues, clip, esc, px, textWidth } from './format.js';
import type { Confusion } from './types.js';

/** Beyond this many labels a heatmap is unreadable; the most frequent true labels are shown (the JSON has all). */
export const MAX_HEATMAP_LABELS = 30;

/**
 * The confusion matrix as an SVG heatmap: rows are true labels, columns predictions, each cell shaded by its count
 * (relative to the largest cell) and the count printed in it; the diagonal is outlined.
 */
export function confusionSvg(confusion: Confusion): { svg: string; shown: number } {
  const order = confusion.labels
    .map((label, i) => ({ label, i, support: confusion.matrix[i]!.reduce((a, b) => a + b, 0) }))
    .sort((a, b) => b.support - a.support)
    .slice(0, MAX_HEATMAP_LABELS)
    .sort((a, b) => a.i - b.i);
  const none = confusion.noPrediction !== undefined;
  const columns = [...order.map((o) => o.label), ...(none ? ['(none)'] : [])];
  const count = (r: number, c: number) =>
    c < order.length
      ? confusion.matrix[order[r]!.i]![order[c]!.i]!
      : (confusion.noPrediction?.[order[r]!.i] ?? 0);
  let max = 1;
  for (let r = 0; r < order.length; r++)
    for (let c = 0; c < columns.length; c++) max = Math.max(max, count(r, c));

  const cell = Math.max(22, Math.min(56, Math.floor(560 / Math.max(columns.length, 1))));
  const longest = Math.max(...columns.map((l) => textWidth(clip(l, 20))), 30);
  const left = 34 + longest;
  const top = 34 + longest * 0.72;
  const width = left + cell * columns.length + 12;
  const height = top + cell * order.length + 12;
  const font = cell < 30 ? 10 : 12;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart confusion" role="img" width="${px(width)}" height="${px(height)}" viewBox="0 0 ${px(width)} ${px(height)}">`,
    `<title>Confusion matrix: true label by predicted label</title>`,
    `<text class="axis-title" x="${px(left + (cell * columns.length) / 2)}" y="14" text-anchor="middle">predicted label</text>`,
    `<text class="axis-title" transform="translate(14 ${px(top + (cell * order.length) / 2)}) rotate(-90)" text-anchor="middle">true label</text>`,
  ];
  columns.forEach((label, c) => {
    const x = left + c * cell + cell / 2;
    parts.push(
      `<text class="tick" transform="translate(${px(x)} ${px(top - 6)}) rotate(-45)" font-size="${font}"><title>${esc(label)}</title>${esc(clip(label, 20))}</text>`,
    );
  });
  order.forEach(({ label }, r) => {
    const y = top + r * cell + cell / 2;
    parts.push(
      `<text class="tick" x="${px(left - 6)}" y="${px(y)}" text-anchor="end" dominant-baseline="middle" font-size="${font}"><title>${esc(label)}</title>${esc(clip(label, 20))}</text>`,
    );
    columns.forEach((pred, c) => {
      const n = count(r, c);
      const { fill, ink } = blues(n / max);
      const [x, yy] = [left + c * cell, top + r * cell];
      const diagonal = c === r ? ' diagonal' : '';
      parts.push(
        `<g class="cm-cell${diagonal}" data-true="${esc(label)}" data-pred="${esc(pred)}" data-count="${n}">` +
          `<rect x="${px(x)}" y="${px(yy)}" width="${cell}" height="${cell}" fill="${fill}"/>` +
          `<text x="${px(x + cell / 2)}" y="${px(yy + cell / 2)}" style="fill:${ink}" font-size="${font}" text-anchor="middle" dominant-baseline="central">${n}</text>` +
          `<title>true ${esc(label)}, predicted ${esc(pred)}: ${n}</title></g>`,
      );
    });
  });
  parts.push('</svg>');
  return { svg: parts.join('\n'), shown: order.length };
}
