/**
 * spam-robustness: how often the audited spam classifier changes its answer when a test mail is perturbed in ways
 * that keep its meaning (character noise, case changes, inserted URLs), and how well its spam probability is
 * calibrated (a reliability diagram, expected calibration error, Brier score). Follows the audit procedure
 * contract (docs/audits.md): inputs under DYFF_AUDIT_INPUTS, the model at DYFF_AUDIT_ENDPOINT, the report to
 * DYFF_AUDIT_OUTPUT (index.html and results.json).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { flipRateSvg, reliabilitySvg } from './charts.mjs';
import { classify, mapLimited } from './model-client.mjs';
import { renderPage } from './page.mjs';
import { perturbations, seededRandom } from './perturb.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this procedure as an audit (docs/audits.md)`);
  return v;
};
const inputs = env('DYFF_AUDIT_INPUTS');
const output = env('DYFF_AUDIT_OUTPUT');
const endpoint = env('DYFF_AUDIT_ENDPOINT');
const params = JSON.parse(await readFile(env('DYFF_AUDIT_PARAMETERS'), 'utf8'));
const textColumn = params.textColumn ?? 'text';
const labelColumn = params.labelColumn ?? 'label';
const positive = params.positiveLabel ?? 'spam';
const split = params.split ?? 'test';
const maxMails = params.maxMails ?? 200;
const binCount = params.bins ?? 10;

const rows = (await readFile(join(inputs, 'dataset', 'rows.jsonl'), 'utf8'))
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const inSplit = rows.filter((r) => r.split === undefined || r.split === split);
const mails = (inSplit.length ? inSplit : rows)
  .filter((r) => typeof r[textColumn] === 'string')
  .sort((a, b) => (a._index_ ?? 0) - (b._index_ ?? 0))
  .slice(0, maxMails);
if (mails.length === 0) throw new Error(`no rows with a string column ${textColumn} in the dataset`);
console.log(`auditing ${mails.length} mail(s) of split ${inSplit.length ? split : '(all)'} at ${endpoint}`);

const concurrency = params.concurrency ?? 4;
const topLabel = (preds) => preds[0].label;
const spamScore = (preds) => preds.find((p) => p.label === positive)?.score ?? 0;
const original = await mapLimited(mails, concurrency, (m) => classify(endpoint, m[textColumn]));

const flips = [];
for (const p of perturbations(params)) {
  const random = seededRandom(`${params.seed ?? 'dyff-audit'}:${p.id}`);
  const texts = mails.map((m) => p.apply(m[textColumn], random));
  const perturbed = await mapLimited(texts, concurrency, (t) => classify(endpoint, t));
  const flipped = perturbed.filter((preds, i) => topLabel(preds) !== topLabel(original[i])).length;
  const spamFlipped = perturbed.filter(
    (preds, i) => (topLabel(preds) === positive) !== (topLabel(original[i]) === positive),
  ).length;
  flips.push({
    id: p.id,
    name: p.name,
    total: mails.length,
    flipped,
    flipRate: flipped / mails.length,
    spamFlipped,
  });
  console.log(`${p.name}: ${flipped} of ${mails.length} predictions changed`);
}

const scored = mails.map((m, i) => ({ p: spamScore(original[i]), y: m[labelColumn] === positive ? 1 : 0 }));
const bins = Array.from({ length: binCount }, (_, b) => {
  const lower = b / binCount;
  const upper = (b + 1) / binCount;
  const inBin = scored.filter((s) => s.p >= lower && (s.p < upper || (b === binCount - 1 && s.p <= 1)));
  const mean = (xs) => (xs.length ? xs.reduce((a, v) => a + v, 0) / xs.length : 0);
  return {
    lower,
    upper,
    count: inBin.length,
    meanPredicted: mean(inBin.map((s) => s.p)),
    observed: mean(inBin.map((s) => s.y)),
  };
});
const ece = bins.reduce((a, b) => a + (b.count / scored.length) * Math.abs(b.meanPredicted - b.observed), 0);
const brier = scored.reduce((a, s) => a + (s.p - s.y) ** 2, 0) / scored.length;
const accuracy = mails.filter((m, i) => topLabel(original[i]) === m[labelColumn]).length / mails.length;

const results = {
  procedure: 'spam-robustness',
  auditId: process.env.DYFF_AUDIT_ID,
  mails: mails.length,
  positiveLabel: positive,
  accuracy,
  perturbations: flips,
  calibration: { bins, expectedCalibrationError: ece, brierScore: brier },
};
await writeFile(join(output, 'results.json'), JSON.stringify(results, null, 2));
await writeFile(
  join(output, 'index.html'),
  renderPage(results, { flipChart: flipRateSvg(flips), reliability: reliabilitySvg(bins) }),
);
console.log(`wrote index.html and results.json (ECE ${ece.toFixed(4)}, Brier ${brier.toFixed(4)})`);
