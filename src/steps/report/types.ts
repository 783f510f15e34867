import type { ReportSpec } from '../../domain/specs.js';
import type { HistoryEntry, Lineage } from './args.js';

/** `reports/<id>/report.json`: everything the HTML page shows, for programs and for the next run's trend. */
export interface ReportDocument {
  reportId: string;
  rubric: ReportSpec['rubric'];
  parameters: ReportSpec['parameters'];
  createdAt: string;
  evaluationId: string;
  datasetId: string;
  lineage: Lineage;
  /** The headline metric's name in `metrics`: what the trend follows. */
  headline: string;
  /** Flat numbers, so that a schedule can feed them back as `--history`. A ratio over nothing is null. */
  metrics: Record<string, number | null>;
  perClass?: ClassMetrics[];
  confusion?: Confusion;
  replications: ReplicationMetrics[];
  skipped: { count: number; items: SkippedItem[] };
  /** Items the evaluation never got an answer for (from the verify summary); null when it did not say. */
  missing: number | null;
  history: HistoryEntry[];
  /** Where the per-instance scores are, for text rubrics. */
  instances?: { key: string; rows: number };
}

export interface ClassMetrics {
  label: string;
  /** Items whose true label this is. */
  support: number;
  /** Items predicted as this label. */
  predicted: number;
  truePositives: number;
  precision: number;
  recall: number;
  f1: number;
}

/** `matrix[i][j]`: items of true label `labels[i]` predicted as `labels[j]`. */
export interface Confusion {
  labels: string[];
  matrix: number[][];
  /** Per true label, items that had no prediction at all (an empty response list); absent when there were none. */
  noPrediction?: number[];
}

export interface ReplicationMetrics {
  replication: string;
  scored: number;
  correct: number;
  /** accuracy or exact-match rate, by rubric */
  score: number | null;
  topKCorrect?: number;
  topKAccuracy?: number | null;
}

export interface SkippedItem {
  _index_: number | null;
  _replication_: string | null;
  status: string | null;
  message: string | null;
}

/** A first page of per-instance rows for the HTML; the whole table is in `instances.parquet`. */
export interface InstanceRow {
  _index_: number;
  _replication_: string;
  expected: string | null;
  got: string | null;
  match: boolean;
}
