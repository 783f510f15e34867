import { classBarsSvg } from './bars-svg.js';
import { confusionSvg } from './confusion-svg.js';
import { dec, esc, num, pct, table } from './format.js';
import { trendSvg } from './trend-svg.js';
import type { ReportDocument } from './types.js';

/** The summary sections of a report page: cards and charts; each returns '' when it has nothing to show. */

const card = (label: string, value: string, note = '', main = false) =>
  `<div class="card${main ? ' headline' : ''}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div>${note ? `<div class="note">${esc(note)}</div>` : ''}</div>`;

export function cards(doc: ReportDocument): string {
  const m = doc.metrics;
  const spreadNote = (name: string) =>
    m.replications && m.replications > 1
      ? `mean ${pct(m[`${name}Mean`])}, min ${pct(m[`${name}Min`])}, max ${pct(m[`${name}Max`])} over ${m.replications} replications`
      : '';
  const list: string[] = [];
  if (doc.rubric === 'text.exactMatch') {
    list.push(card('exact match', pct(m.exactMatch), spreadNote('exactMatch'), true));
    list.push(card('matched', `${num(m.matched)} / ${num(m.scored)}`));
  } else {
    const topK = doc.rubric === 'classification.topKAccuracy';
    const accuracy = card('accuracy', pct(m.accuracy), topK ? '' : spreadNote('accuracy'), !topK);
    const topKCard = card(`top-${m.k} accuracy`, pct(m.topKAccuracy), '', topK);
    // The rubric's metric comes first and large; top-k is only worth a card when k > 1.
    if (topK) list.push(topKCard, accuracy);
    else list.push(accuracy, ...((m.k ?? 1) > 1 ? [topKCard] : []));
    list.push(card('macro F1', dec(m.macroF1)), card('micro F1', dec(m.microF1)));
    list.push(card('correct', `${num(m.correct)} / ${num(m.scored)}`));
  }
  list.push(card('replications', num(m.replications)), card('skipped', String(doc.skipped.count)));
  list.push(card('missing', doc.missing === null ? 'unknown' : String(doc.missing)));
  return `<section class="cards">${list.join('')}</section>`;
}

export function trend(doc: ReportDocument): string {
  const earlier = doc.history.flatMap((h) => {
    const v = h.metrics[doc.headline];
    return typeof v === 'number'
      ? [{ reportId: h.reportId, createdAt: h.createdAt, value: v, current: false }]
      : [];
  });
  const now = doc.metrics[doc.headline];
  if (doc.history.length > 0 && earlier.length === 0) {
    // Said rather than hidden: a schedule whose rubric changed would otherwise lose its trend silently.
    return `<section><h2>Trend</h2><p class="hint">None of the ${doc.history.length} earlier run(s) has ${esc(doc.headline)}.</p></section>`;
  }
  if (earlier.length === 0 || typeof now !== 'number') return '';
  const points = [
    ...earlier,
    { reportId: doc.reportId, createdAt: doc.createdAt, value: now, current: true },
  ];
  return `<section><h2>Trend of ${esc(doc.headline)}</h2><p class="hint">${earlier.length} earlier run(s) of this schedule; this run in red.</p>${trendSvg(doc.headline, points)}</section>`;
}

export function confusion(doc: ReportDocument): string {
  if (!doc.confusion || doc.confusion.labels.length === 0) return '';
  const { svg, shown } = confusionSvg(doc.confusion);
  const all = doc.confusion.labels.length;
  const note =
    shown < all
      ? `<p class="hint">Showing the ${shown} most frequent of ${all} labels; report.json has all.</p>`
      : '';
  return `<section><h2>Confusion matrix</h2>${note}<div class="scroll">${svg}</div></section>`;
}

export function perClass(doc: ReportDocument): string {
  if (!doc.perClass || doc.perClass.length === 0) return '';
  const { svg, shown } = classBarsSvg(doc.perClass);
  const note =
    shown < doc.perClass.length ? `<p class="hint">Chart shows the ${shown} most supported classes.</p>` : '';
  const m = doc.metrics;
  const rows = doc.perClass.map((c) => [
    esc(c.label),
    dec(c.precision),
    dec(c.recall),
    dec(c.f1),
    String(c.support),
    String(c.predicted),
  ]);
  rows.push([
    '<b>macro avg</b>',
    dec(m.macroPrecision),
    dec(m.macroRecall),
    dec(m.macroF1),
    num(m.scored),
    '',
  ]);
  rows.push([
    '<b>micro avg</b>',
    dec(m.microPrecision),
    dec(m.microRecall),
    dec(m.microF1),
    num(m.scored),
    '',
  ]);
  const head = ['class', 'precision', 'recall', 'F1', 'support', 'predicted'];
  return `<section><h2>Per class</h2>${note}<div class="scroll">${svg}</div>${table(head, rows, 'numbers')}</section>`;
}
