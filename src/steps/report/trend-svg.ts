import { esc, num, pct, px } from './format.js';

export interface TrendPoint {
  reportId: string;
  createdAt: string;
  value: number;
  current: boolean;
}

/**
 * The headline metric across earlier runs of a schedule and this one, evenly spaced in run order. Rates use a
 * fixed 0–1 axis so that a small wobble does not look like a collapse.
 */
export function trendSvg(metric: string, points: TrendPoint[]): string {
  const [width, height, left, right, top, bottom] = [760, 260, 56, 24, 20, 56];
  const values = points.map((p) => p.value);
  const rate = values.every((v) => v >= 0 && v <= 1);
  let [lo, hi] = rate ? [0, 1] : [Math.min(...values), Math.max(...values)];
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  // Points sit inside the plot's edges so that the first and last date labels are not cut off.
  const [x0, x1] = [left + 44, width - right - 44];
  const x = (i: number) => x0 + (points.length === 1 ? 0.5 : i / (points.length - 1)) * (x1 - x0);
  const y = (v: number) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  const show = (v: number) => (rate ? pct(v) : num(v));

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart trend" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${esc(metric)} across runs</title>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = lo + ((hi - lo) * t) / 4;
    parts.push(
      `<line class="grid" x1="${left}" x2="${width - right}" y1="${px(y(v))}" y2="${px(y(v))}"/>`,
      `<text class="tick" x="${left - 6}" y="${px(y(v))}" text-anchor="end" dominant-baseline="middle">${show(v)}</text>`,
    );
  }
  const path = points.map((p, i) => `${px(x(i))},${px(y(p.value))}`).join(' ');
  parts.push(
    `<polyline class="trend-line" points="${path}" fill="none" stroke="#4e79a7" stroke-width="2.5"/>`,
  );
  points.forEach((p, i) => {
    const fill = p.current ? '#e15759' : '#4e79a7';
    parts.push(
      `<g class="trend-point${p.current ? ' current' : ''}"><circle cx="${px(x(i))}" cy="${px(y(p.value))}" r="${p.current ? 6 : 4.5}" fill="${fill}"/>` +
        `<text class="value" x="${px(x(i))}" y="${px(y(p.value) - 10)}" text-anchor="middle">${show(p.value)}</text>` +
        `<title>${esc(p.reportId)} ${esc(p.createdAt)}: ${show(p.value)}</title></g>`,
      `<text class="tick" x="${px(x(i))}" y="${height - bottom + 18}" text-anchor="middle">${esc(p.createdAt.slice(0, 10))}` +
        `<tspan x="${px(x(i))}" dy="14">${esc(p.createdAt.slice(11, 16))}</tspan></text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
