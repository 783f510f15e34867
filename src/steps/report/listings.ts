import { esc, num, pct, table } from './format.js';
import type { InstanceRow, ReportDocument } from './types.js';

/** The tabular sections of a report page: replications, instances, skipped items, lineage. */

export const MAX_SKIPPED_ROWS = 100;

export function replications(doc: ReportDocument): string {
  const topK = doc.rubric === 'classification.topKAccuracy' || (doc.metrics.k ?? 1) > 1;
  const head = [
    'replication',
    'scored',
    'correct',
    doc.headline === 'exactMatch' ? 'exact match' : 'accuracy',
  ];
  if (topK) head.push(`top-${doc.metrics.k} accuracy`);
  const rows = doc.replications.map((r) => [
    `<code>${esc(r.replication)}</code>`,
    String(r.scored),
    String(r.correct),
    pct(r.score),
    ...(topK ? [pct(r.topKAccuracy)] : []),
  ]);
  return `<section><h2>Replications</h2>${table(head, rows, 'numbers')}</section>`;
}

export function instances(doc: ReportDocument, first: InstanceRow[]): string {
  if (!doc.instances) return '';
  const rows = first.map((r) => [
    String(r._index_),
    `<code>${esc(r._replication_)}</code>`,
    `<pre>${esc(r.expected)}</pre>`,
    `<pre>${esc(r.got)}</pre>`,
    r.match ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>',
  ]);
  const note = `First ${first.length} of ${doc.instances.rows} rows; all are in <code>reports/${esc(doc.instances.key)}</code>.`;
  return `<section><h2>Instances</h2><p class="hint">${note}</p>${table(['_index_', '_replication_', 'expected', 'got', 'match'], rows, 'instances')}</section>`;
}

export function skipped(doc: ReportDocument): string {
  const { count, items } = doc.skipped;
  if (count === 0) return `<section><h2>Skipped items</h2><p>None.</p></section>`;
  const shown = items.slice(0, MAX_SKIPPED_ROWS);
  const rows = shown.map((s) => [
    num(s._index_),
    `<code>${esc(s._replication_ ?? '')}</code>`,
    esc(s.status ?? ''),
    esc(s.message ?? ''),
  ]);
  const note =
    items.length === 0
      ? `${count} item(s) skipped; the verify summary does not list them.`
      : `${count} item(s) skipped by the evaluation; they count as neither correct nor wrong.${shown.length < items.length ? ` First ${shown.length} shown.` : ''}`;
  return `<section><h2>Skipped items</h2><p class="hint">${esc(note)}</p>${items.length ? table(['_index_', '_replication_', 'status', 'message'], rows) : ''}</section>`;
}

export function lineage(doc: ReportDocument): string {
  const entries = Object.entries(doc.lineage);
  if (entries.length === 0) return `<section><h2>Lineage</h2><p>Not given.</p></section>`;
  const blocks = entries.map(([kind, e]) => {
    const { id, name, status, spec, ...rest } = e;
    const body = spec !== undefined ? spec : Object.keys(rest).length ? rest : undefined;
    return (
      `<div class="lineage-entry"><h3>${esc(kind)}${name ? ` <small>${esc(name)}</small>` : ''}</h3>` +
      `<p>id <code>${esc(id ?? '–')}</code>${status ? ` · ${esc(status)}` : ''}</p>` +
      (body === undefined ? '' : `<pre class="spec">${esc(JSON.stringify(body, null, 2))}</pre>`) +
      `</div>`
    );
  });
  return `<section><h2>Lineage</h2><div class="lineage">${blocks.join('')}</div></section>`;
}
