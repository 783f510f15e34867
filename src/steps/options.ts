/**
 * The options some steps take besides --id, --spec and --work-dir. They live apart from the step programs so that
 * parsing a step's arguments loads none of the program (DuckDB, the HTTP client) before its first log line.
 */

/** Options of `dyffctl step evaluate`. */
export const EVALUATE_OPTIONS = {
  /** Base URL of the inference session, e.g. http://127.0.0.1:8000 (not needed when the service has a full URL). */
  endpoint: { type: 'string' },
  /** The ServiceDescription as JSON. @default inferenceservices/<spec.inferenceService>/service.json */
  service: { type: 'string' },
  /**
   * Outputs per checkpointed part. Each part costs a DuckDB COPY, a store write and a checkpoint: measured, 1,000
   * outputs a part cost ~25 µs of CPU per output, 5,000 ~15 µs; a crash resends at most one part (or 30 s of work).
   * @default 5000
   */
  'checkpoint-items': { type: 'string' },
  /** Longest time outputs wait before they are checkpointed. @default 30 */
  'checkpoint-seconds': { type: 'string' },
} as const;

/** Options of `dyffctl step report`. */
export const REPORT_OPTIONS = {
  dataset: { type: 'string' },
  lineage: { type: 'string' },
  history: { type: 'string' },
} as const;

/** Options of `dyffctl step fetch-procedure`: the bucket folder of an `object` procedure (a grant binding). */
export const FETCH_PROCEDURE_OPTIONS = { source: { type: 'string' } } as const;

/** Options of `dyffctl step run-audit`: the session's base URL, the service description, the dataset staged. */
export const RUN_AUDIT_OPTIONS = {
  endpoint: { type: 'string' },
  service: { type: 'string' },
  dataset: { type: 'string' },
} as const;
