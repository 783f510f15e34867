import type { DatasetManifest, ModelManifest, ReportHeadline, VerifySummary } from './artifacts.js';
import type { Status } from './status.js';
import type { StepName } from './step-catalogue.js';

/** An entity's success: its status, message and details, as the store records them and the run shows them. */
export interface Ending {
  to: Extract<Status, 'Ready' | 'Complete'>;
  message?: string;
  details: Record<string, unknown>;
}

/**
 * What the activity that does an entity's last work is asked to record once that work succeeds: the transition
 * the workflow would otherwise make itself, in a local activity of its own (one activation of the run more).
 */
export interface FinishRequest {
  allowedFrom: Status[];
  /** Tries of the entity's steps that were retried, kept in its details (as every other ending keeps them). */
  retries?: unknown[];
  /** An evaluation's: once it is Complete, give its slot of the account's quota back. */
  release?: { account: string; holder: string };
}

/** The summary the evaluation reads: summaries of older versions list the skipped items. */
export type EvaluationSummary = Partial<Omit<VerifySummary, 'skipped'>> & { skipped?: number | unknown[] };

/** A metric's short form for a message: four decimals at most. */
function summarizeMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${Math.round(v * 10_000) / 10_000}`)
    .join(' ');
}

/**
 * Each entity's success from the document its last step writes for the workflow, or undefined when that document
 * cannot make one (missing, or without what the entity's details need): the workflow then ends the entity in
 * failure with its own message. One rule for the activity that records the ending and for the workflow that
 * records it itself (runs recorded before the activity did).
 */
export const STEP_ENDINGS = {
  'fetch-model'(output: unknown): Ending {
    const files = (output as Partial<ModelManifest> | undefined)?.files?.length ?? 0;
    return { to: 'Ready', message: `${files} files`, details: { files } };
  },
  'build-service'(output: unknown): Ending | undefined {
    return output ? { to: 'Ready', details: { description: output } } : undefined;
  },
  'verify-outputs'(output: unknown): Ending | undefined {
    const summary = output as EvaluationSummary | undefined;
    if (!summary) return undefined;
    const skipped = Array.isArray(summary.skipped) ? summary.skipped.length : (summary.skipped ?? 0);
    const message = `${summary.written ?? '?'} outputs, ${skipped} skipped`;
    return { to: 'Complete', message, details: { summary } };
  },
  report(output: unknown): Ending | undefined {
    const report = output as ReportHeadline | undefined;
    if (!report?.metrics) return undefined;
    const metrics = Object.fromEntries(
      Object.entries(report.metrics).filter((e): e is [string, number] => typeof e[1] === 'number'),
    );
    return { to: 'Complete', message: summarizeMetrics(metrics), details: { metrics } };
  },
} satisfies Partial<Record<StepName, (output: unknown) => Ending | undefined>>;

export type EndingStep = keyof typeof STEP_ENDINGS;

/** The ending of a step's entity from its output. */
export function stepEnding<S extends EndingStep>(
  step: S,
  output: unknown,
): ReturnType<(typeof STEP_ENDINGS)[S]> {
  return STEP_ENDINGS[step](output) as ReturnType<(typeof STEP_ENDINGS)[S]>;
}

/** The same, for a step named at run time: undefined for a step that ends no entity. */
export function endingOfStep(step: string, output: unknown): Ending | undefined {
  return Object.hasOwn(STEP_ENDINGS, step) ? STEP_ENDINGS[step as EndingStep](output) : undefined;
}

/** A verified dataset as the store records it: its rows, shards, columns and place. */
export interface VerifiedDataset {
  rowCount: number;
  artifacts: DatasetManifest['artifacts'];
  columns: { name: string; type: string }[];
  location: string;
}

/** A Dataset's success once its shards are verified. */
export function datasetEnding(verified: VerifiedDataset): Ending {
  const { rowCount, artifacts, columns, location } = verified;
  return { to: 'Ready', message: `${rowCount} rows`, details: { rowCount, artifacts, columns, location } };
}

/** The details an ending is recorded with: its own, and the retried tries when there were any. */
export function endingDetails(ending: Ending, retries?: unknown[]): Record<string, unknown> {
  return retries?.length ? { ...ending.details, retries } : ending.details;
}
