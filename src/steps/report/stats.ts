import type { DuckDBConnection } from '@duckdb/node-api';
import type { ReplicationMetrics } from './types.js';

/** A ratio over nothing is unknown, not 0: a report of zero scored items must not read as a failing model. */
export const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);

/** Harmonic mean of precision and recall; 0 when both are 0 (scikit-learn's zero_division=0). */
export const f1 = (p: number, r: number): number => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

export const mean = (xs: number[]): number | null =>
  xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;

/** Labels in a stable order a reader expects: numeric-aware, so "2" sorts before "10". */
export const byLabel = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/** Rows as plain objects with DuckDB's BIGINT/HUGEINT counts as numbers. */
export async function rows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const result = (await conn.runAndReadAll(sql)).getRowObjectsJS();
  return result.map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
  );
}

/** `<name>Mean|Min|Max` over the replications that scored anything: how stable the model's answers are. */
export function spread(name: string, reps: ReplicationMetrics[]): Record<string, number | null> {
  const scores = reps.map((r) => r.score).filter((s): s is number => s !== null);
  return {
    replications: reps.length,
    [`${name}Mean`]: mean(scores),
    [`${name}Min`]: scores.length ? Math.min(...scores) : null,
    [`${name}Max`]: scores.length ? Math.max(...scores) : null,
  };
}
