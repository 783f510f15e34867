import { esc } from './charts.mjs';

/** The audit report: one self-contained HTML page (styles and charts inline). */
export function renderPage(results, charts) {
  const n = (v, d = 3) => (typeof v === 'number' ? v.toFixed(d) : 'n/a');
  const flipRows = results.perturbations
    .map(
      (p) =>
        `<tr data-perturbation="${esc(p.id)}"><td>${esc(p.name)}</td><td class="num">${p.total}</td><td class="num">${p.flipped}</td><td class="num flip-rate">${n(p.flipRate)}</td><td class="num">${p.spamFlipped}</td></tr>`,
    )
    .join('\n');
  const binRows = results.calibration.bins
    .map(
      (b) =>
        `<tr><td>[${b.lower.toFixed(1)}, ${b.upper.toFixed(1)})</td><td class="num">${b.count}</td><td class="num">${b.count ? n(b.meanPredicted) : '–'}</td><td class="num">${b.count ? n(b.observed) : '–'}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Audit: spam classifier robustness and calibration</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border-bottom:1px solid #ddd;padding:.3rem .7rem;text-align:left}
.num{text-align:right;font-variant-numeric:tabular-nums}.headline{display:flex;gap:2rem}.headline div{font-size:1.4rem}
.headline small{display:block;font-size:.8rem;color:#666}
</style></head><body>
<h1>Spam classifier: robustness and calibration</h1>
<p>Audit <code>${esc(results.auditId ?? '')}</code>: ${results.mails} test mail(s), positive label <code>${esc(results.positiveLabel)}</code>.</p>
<section class="headline">
<div id="accuracy"><small>accuracy on the unperturbed mails</small>${n(results.accuracy)}</div>
<div id="ece"><small>expected calibration error</small>${n(results.calibration.expectedCalibrationError, 4)}</div>
<div id="brier"><small>Brier score (spam vs not)</small>${n(results.calibration.brierScore, 4)}</div>
</section>
<h2>Robustness: flip rate per perturbation</h2>
<p>The share of mails whose predicted label changed when the mail was perturbed in a way that keeps its meaning.</p>
<table id="flip-rates"><thead><tr><th>perturbation</th><th class="num">mails</th><th class="num">changed</th><th class="num">flip rate</th><th class="num">spam ↔ not spam</th></tr></thead>
<tbody>
${flipRows}
</tbody></table>
${charts.flipChart}
<h2>Calibration: reliability diagram</h2>
<p>Mails binned by the model's spam probability; a calibrated model's points lie on the diagonal.</p>
${charts.reliability}
<table id="calibration-bins"><thead><tr><th>P(spam)</th><th class="num">mails</th><th class="num">mean predicted</th><th class="num">observed spam share</th></tr></thead>
<tbody>
${binRows}
</tbody></table>
</body></html>
`;
}
