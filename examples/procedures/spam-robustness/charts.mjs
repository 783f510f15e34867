/** The report's two charts as inline SVG, in the style of the platform's own report (no chart library). */

export const esc = (s) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
const f = (n) => (Math.round(n * 10) / 10).toString();

/** Flip rate per perturbation as horizontal bars on a 0–1 axis. */
export function flipRateSvg(rows) {
  const left = 230;
  const plot = 380;
  const bar = 24;
  const top = 16;
  const width = left + plot + 70;
  const height = top + rows.length * (bar + 8) + 28;
  const x = (v) => left + v * plot;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" id="flip-chart" class="chart" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<title>Flip rate per perturbation</title>',
  ];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${top - 4}" y2="${height - 22}" stroke="#ddd"/>`,
      `<text x="${f(x(t))}" y="${height - 6}" text-anchor="middle" font-size="11">${t}</text>`,
    );
  }
  rows.forEach((r, i) => {
    const y = top + i * (bar + 8);
    parts.push(
      `<g class="bar" data-perturbation="${esc(r.id)}" data-value="${r.flipRate}">` +
        `<text x="${left - 8}" y="${y + bar / 2}" text-anchor="end" dominant-baseline="middle" font-size="12">${esc(r.name)}</text>` +
        `<rect x="${left}" y="${y}" width="${f(r.flipRate * plot)}" height="${bar}" fill="#e15759"/>` +
        `<text x="${f(x(r.flipRate) + 4)}" y="${y + bar / 2}" dominant-baseline="middle" font-size="12">${r.flipRate.toFixed(3)}</text>` +
        `<title>${esc(r.name)}: ${r.flipped} of ${r.total} predictions changed</title></g>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * The reliability diagram: per bin of predicted spam probability, the observed share of spam (points on the
 * diagonal are a calibrated model), with each bin's count.
 */
export function reliabilitySvg(bins) {
  const size = 320;
  const pad = 44;
  const width = size + pad * 2;
  const x = (v) => pad + v * size;
  const y = (v) => pad + (1 - v) * size;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" id="reliability" class="chart" role="img" width="${width}" height="${width}" viewBox="0 0 ${width} ${width}">`,
    '<title>Reliability diagram: predicted spam probability against observed spam share</title>',
    `<rect x="${pad}" y="${pad}" width="${size}" height="${size}" fill="none" stroke="#999"/>`,
    `<line class="diagonal" x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4 4"/>`,
  ];
  for (const t of [0, 0.5, 1]) {
    parts.push(
      `<text x="${f(x(t))}" y="${pad + size + 16}" text-anchor="middle" font-size="11">${t}</text>`,
      `<text x="${pad - 8}" y="${f(y(t))}" text-anchor="end" dominant-baseline="middle" font-size="11">${t}</text>`,
    );
  }
  parts.push(
    `<text x="${pad + size / 2}" y="${pad + size + 34}" text-anchor="middle" font-size="12">predicted P(spam)</text>`,
    `<text x="12" y="${pad + size / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 12 ${pad + size / 2})">observed spam share</text>`,
  );
  const used = bins.filter((b) => b.count > 0);
  if (used.length > 1)
    parts.push(
      `<polyline fill="none" stroke="#4e79a7" stroke-width="2" points="${used.map((b) => `${f(x(b.meanPredicted))},${f(y(b.observed))}`).join(' ')}"/>`,
    );
  for (const b of used) {
    parts.push(
      `<g class="bin" data-lower="${b.lower}" data-upper="${b.upper}" data-count="${b.count}" data-observed="${b.observed}" data-predicted="${b.meanPredicted}">` +
        `<circle cx="${f(x(b.meanPredicted))}" cy="${f(y(b.observed))}" r="${f(3 + Math.min(8, Math.sqrt(b.count)))}" fill="#4e79a7" fill-opacity="0.7"/>` +
        `<title>[${b.lower.toFixed(1)}, ${b.upper.toFixed(1)}): ${b.count} mail(s), mean predicted ${b.meanPredicted.toFixed(3)}, observed ${b.observed.toFixed(3)}</title></g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}
