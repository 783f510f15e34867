import { quotedIdentifier, quotedString } from '@duckdb/node-api';
import type { IngestSpec } from '../../domain/specs.js';
import { invalidInput } from '../errors.js';

export const INDEX_COLUMN = '_index_';

/**
 * The SELECT list that turns source rows into dataset rows: `_index_` from the column `index` (the row's position
 * in file order, then row order), then the columns renamed and selected, then the split column. Names in
 * `columns` and `split.from` are names after renaming.
 */
export function projection(staged: readonly string[], ingest: IngestSpec, index: string): string[] {
  const renamed = applyRename(staged, ingest.rename ?? {});
  const sourceOf = new Map(renamed.map((name, i) => [name, staged[i]!]));
  if (sourceOf.has(INDEX_COLUMN)) {
    throw invalidInput(`the data already has a column ${INDEX_COLUMN}; rename it with spec.ingest.rename`);
  }
  const selected = ingest.columns ?? renamed;
  const seen = new Set<string>();
  for (const name of selected) {
    if (!sourceOf.has(name)) throw unknownColumn('spec.ingest.columns', name, renamed);
    if (seen.has(name)) throw invalidInput(`spec.ingest.columns: ${JSON.stringify(name)} is listed twice`);
    seen.add(name);
  }
  const list = [`${quotedIdentifier(index)} AS ${quotedIdentifier(INDEX_COLUMN)}`];
  for (const name of selected)
    list.push(`${quotedIdentifier(sourceOf.get(name)!)} AS ${quotedIdentifier(name)}`);
  const split = ingest.split && splitExpression(ingest.split, sourceOf, renamed, index);
  if (split && !(seen.has(split.column) && split.copyOf === split.column)) {
    if (seen.has(split.column)) {
      throw invalidInput(`spec.ingest.split.column: ${JSON.stringify(split.column)} is already a column`);
    }
    list.push(`${split.sql} AS ${quotedIdentifier(split.column)}`);
  }
  return list;
}

function applyRename(staged: readonly string[], rename: Record<string, string>): string[] {
  for (const from of Object.keys(rename)) {
    if (!staged.includes(from)) throw unknownColumn('spec.ingest.rename', from, staged);
  }
  const renamed = staged.map((name) => rename[name] ?? name);
  const duplicate = renamed.find((name, i) => renamed.indexOf(name) !== i);
  if (duplicate !== undefined) {
    throw invalidInput(`spec.ingest.rename: two columns would be named ${JSON.stringify(duplicate)}`);
  }
  return renamed;
}

function unknownColumn(field: string, name: string, available: readonly string[]) {
  return invalidInput(`${field}: unknown column ${JSON.stringify(name)}; available: ${available.join(', ')}`);
}

type Split = NonNullable<IngestSpec['split']>;

/**
 * Fractions assign each row by the md5 of `<seed>:<_index_>`, its first 13 hex digits read as a number in [0, 1):
 * the same input and seed give the same split on every run, and any tool with md5 can recompute it.
 */
function splitExpression(
  split: Split,
  sourceOf: ReadonlyMap<string, string>,
  available: readonly string[],
  index: string,
) {
  if ((split.from === undefined) === (split.fractions === undefined)) {
    throw invalidInput('spec.ingest.split: set exactly one of from (a column) or fractions');
  }
  if (split.pattern !== undefined && split.from === undefined) {
    throw invalidInput(
      'spec.ingest.split.pattern: applies to the column named by spec.ingest.split.from; set it',
    );
  }
  if (split.from !== undefined) {
    const source = sourceOf.get(split.from);
    if (source === undefined) throw unknownColumn('spec.ingest.split.from', split.from, available);
    if (split.pattern !== undefined) {
      return {
        column: split.column,
        copyOf: undefined,
        sql: matchedSplit(split.pattern, split.from, source),
      };
    }
    return { column: split.column, copyOf: split.from, sql: quotedIdentifier(source) };
  }
  const entries = Object.entries(split.fractions!);
  if (entries.length === 0) throw invalidInput('spec.ingest.split.fractions: name at least one split');
  const sum = entries.reduce((a, [, f]) => a + f, 0);
  const unit = `(('0x' || substr(md5(${quotedString(`${split.seed}:`)} || ${quotedIdentifier(index)}::VARCHAR), 1, 13))::BIGINT / 4503599627370496.0)`;
  let cumulative = 0;
  const cases = entries.slice(0, -1).map(([name, f]) => {
    cumulative += f / sum;
    return `WHEN ${unit} < ${cumulative} THEN ${quotedString(name)}`;
  });
  const last = quotedString(entries[entries.length - 1]![0]);
  const sql = cases.length === 0 ? last : `CASE ${cases.join(' ')} ELSE ${last} END`;
  return { column: split.column, copyOf: undefined, sql };
}

/**
 * The split taken from a column's value by a regex (RE2 in DuckDB): its first group, or the whole match when it
 * has none. A value it does not match fails the ingest with a message naming the value and the field.
 */
function matchedSplit(pattern: string, from: string, source: string): string {
  let groups: number;
  try {
    // An alternative that matches the empty string shows how many groups the pattern has.
    groups = new RegExp(`${pattern}|`).exec('')!.length - 1;
  } catch (err) {
    throw invalidInput(`spec.ingest.split.pattern: invalid regular expression: ${(err as Error).message}`);
  }
  const value = `CAST(${quotedIdentifier(source)} AS VARCHAR)`;
  const re = quotedString(pattern);
  const unmatched = `error(${quotedString(`spec.ingest.split.pattern ${JSON.stringify(pattern)} does not match ${from} `)} || coalesce(to_json(${value})::VARCHAR, 'null (no value)'))`;
  return `CASE WHEN regexp_matches(${value}, ${re}) THEN regexp_extract(${value}, ${re}, ${groups > 0 ? 1 : 0}) ELSE ${unmatched} END`;
}

/** A column name not among `taken`, for the helper columns the writer adds (row position, shard number). */
export function freeName(base: string, taken: readonly string[]): string {
  let name = base;
  while (taken.includes(name)) name = `_${name}`;
  return name;
}
