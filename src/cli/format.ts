import type { EntityView } from '../client.js';
import type { Entity, Progress } from '../domain/entity.js';
import { outcomesOf } from '../domain/status.js';

export function formatProgress(p?: Progress): string {
  if (!p) return '';
  const parts = [p.stage];
  if (p.done !== undefined && p.total) {
    parts.push(`${p.done}/${p.total} ${p.unit ?? ''} (${Math.floor((100 * p.done) / p.total)}%)`.trim());
  } else if (p.done !== undefined) parts.push(`${p.done} ${p.unit ?? ''}`.trim());
  if (p.message) parts.push(p.message);
  return parts.join(' ');
}

/** One status line for a waiting terminal: `Admitted  ingest 5000/6046 rows (82%)`. */
export function statusLine(v: EntityView): string {
  const stage = v.progress ? formatProgress(v.progress) : (v.stage ?? '');
  return `${v.kind} ${v.id}  ${v.status}${v.reason ? ` (${v.reason})` : ''}  ${stage}`.trimEnd();
}

/**
 * An entity as `dyffctl get` shows it. `location`: where its artifacts are, for an entity that does not record it
 * itself (all but datasets); shown once it is Ready or Complete, with the page of a report or an audit.
 */
export function describeEntity(v: EntityView, location?: string): string {
  const lines = [
    `id:        ${v.id}`,
    `kind:      ${v.kind}`,
    `name:      ${v.name ?? ''}`,
    `account:   ${v.account}`,
    `status:    ${v.status}${v.reason ? ` (${v.reason})` : ''}`,
  ];
  if (v.progress || v.stage) lines.push(`progress:  ${formatProgress(v.progress) || v.stage}`);
  if (v.message) lines.push(`message:   ${v.message.split('\n').join('\n           ')}`);
  const recorded = v.details?.location;
  if (typeof recorded === 'string') lines.push(`location:  ${recorded}`);
  else if (location && v.status === outcomesOf(v.kind).success) {
    lines.push(`location:  ${location}`);
    if (v.kind === 'Report' || v.kind === 'Audit') lines.push(`page:      ${location}index.html`);
  }
  if (typeof v.details?.rowCount === 'number') lines.push(`rows:      ${v.details.rowCount}`);
  lines.push(`created:   ${v.creationTime}`, `updated:   ${v.lastTransitionTime}`, `workflow:  ${v.uiUrl}`);
  return lines.join('\n');
}

export function entityTable(rows: Entity[]): string {
  const header = ['ID', 'KIND', 'NAME', 'ACCOUNT', 'STATUS', 'REASON', 'CREATED'];
  const cells = rows.map((e) => [
    e.id,
    e.kind,
    e.name ?? '',
    e.account,
    e.status,
    e.reason ?? '',
    e.creationTime,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [header, ...cells]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
