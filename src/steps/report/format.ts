/** Text for HTML and SVG: every label, id and message comes from data or users and is escaped where it is put. */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** A rate as a percentage; "–" when it is unknown (nothing scored). */
export const pct = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined ? '–' : `${(x * 100).toFixed(digits)}%`;

/** A ratio to three decimals; `num` would print an exact 1 as "1" next to "0.750". */
export const dec = (x: number | null | undefined): string =>
  x === null || x === undefined ? '–' : x.toFixed(3);

export const num = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined ? '–' : Number.isInteger(x) ? String(x) : x.toFixed(digits);

/** Long labels are cut for chart axes; the full text stays in the element's <title>. */
export const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** Rounded for SVG attributes, so the markup stays short and stable. */
export const px = (x: number): string => String(Math.round(x * 10) / 10);

/**
 * A sequential blue scale (ColorBrewer "Blues" ends) for t in [0, 1], and the text colour readable on it.
 */
export function blues(t: number): { fill: string; ink: string } {
  const lo = [247, 251, 255];
  const hi = [8, 48, 107];
  const c = lo.map((v, i) => Math.round(v + (hi[i]! - v) * Math.min(1, Math.max(0, t))));
  return { fill: `rgb(${c.join(',')})`, ink: t > 0.5 ? '#ffffff' : '#1b1b1b' };
}

/** Approximate width of text in the page's sans-serif at `size` px, to size chart margins without a layout engine. */
export const textWidth = (s: string, size = 12): number => s.length * size * 0.6;

/** A plain table; cells are HTML already (escaped by the caller), headers are text. */
export const table = (head: string[], rows: string[][], cls = '') =>
  `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
  `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
