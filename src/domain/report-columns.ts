/*
 * Which dataset columns a report reads, so that a pipeline's evaluation can check them against its dataset before it
 * runs. Imported by workflow code: no zod here (see src/workflow-bundle.ts), the spec's type only.
 */
import type { ReportSpec } from './specs.js';

/** A dataset column a report reads: the manifest field that names it, and the name. */
export interface ReportColumn {
  field: string;
  column: string;
}

/**
 * The dataset columns a report with these parameters reads: its label column, and its split column when it scores
 * one split. `at` is where the parameters are in the manifest (`spec.report.parameters` in a pipeline's).
 */
export function reportColumns(
  parameters: Partial<ReportSpec['parameters']> | undefined,
  at: string,
): ReportColumn[] {
  const p = parameters ?? {};
  return [
    { field: `${at}.labelColumn`, column: p.labelColumn ?? 'label' },
    ...(p.split === undefined ? [] : [{ field: `${at}.splitColumn`, column: p.splitColumn ?? 'split' }]),
  ];
}

/**
 * What is wrong when a dataset whose columns are `columns` lacks one a report reads, naming the field and what
 * the dataset has; undefined when it has them all. Names match as DuckDB matches them in the report's queries:
 * whatever their case.
 */
export function missingReportColumn(
  wanted: ReportColumn[],
  columns: string[],
  datasetId: string,
): string | undefined {
  const have = new Set(columns.map((c) => c.toLowerCase()));
  const missing = wanted.find((w) => !have.has(w.column.toLowerCase()));
  if (!missing) return undefined;
  return `${missing.field}: column ${JSON.stringify(missing.column)} not in dataset ${datasetId}; available: ${columns.join(', ')}`;
}
