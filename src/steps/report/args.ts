import * as z from 'zod';
import { entityId } from '../../domain/specs.js';
import { errorMessage, invalidInput } from '../errors.js';

/**
 * `--lineage`: what the report is about, `{dataset: {id, spec}, model: {id, spec}, inferenceService: {id, spec},
 * evaluation: {id, spec}}`. Entries are shown as given; unknown keys are kept, so a caller can add more.
 */
export const Lineage = z.record(
  z.string(),
  z.looseObject({
    id: z.string().optional(),
    name: z.string().nullish(),
    status: z.string().nullish(),
    spec: z.unknown().optional(),
  }),
);
export type Lineage = z.infer<typeof Lineage>;

/** `--history`: earlier runs of the same schedule, for the trend of the headline metric. */
export const History = z.array(
  z.looseObject({
    reportId: z.string(),
    createdAt: z.string(),
    metrics: z.record(z.string(), z.number().nullable()),
  }),
);
export type HistoryEntry = z.infer<typeof History>[number];

export interface ReportArgs {
  datasetId: string;
  lineage: Lineage;
  history: HistoryEntry[];
}

/** The report step's options besides --id and --spec, checked against each other and the spec. */
export function parseReportArgs(
  raw: Record<string, string | undefined>,
  spec: { evaluation: string },
): ReportArgs {
  const datasetId = raw.dataset;
  if (!datasetId || !entityId.safeParse(datasetId).success) {
    throw invalidInput(
      `--dataset: expected a dataset id (32 lowercase hex digits), got ${JSON.stringify(datasetId ?? '')}`,
    );
  }
  const lineage = parseJson('--lineage', raw.lineage ?? '{}', Lineage);
  const history = parseJson('--history', raw.history ?? '[]', History);
  // A lineage that names other entities than the ones scored would mislabel the whole report.
  const mismatch = (key: string, expected: string) => {
    const id = lineage[key]?.id;
    if (id !== undefined && id !== expected) {
      throw invalidInput(`--lineage: ${key}.id is ${id} but the report scores ${key} ${expected}`);
    }
  };
  mismatch('dataset', datasetId);
  mismatch('evaluation', spec.evaluation);
  history.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  return { datasetId, lineage, history };
}

function parseJson<T>(flag: string, text: string, schema: z.ZodType<T>): T {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalidInput(`${flag}: not valid JSON: ${errorMessage(err)}`);
  }
  const result = schema.safeParse(doc);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${[flag, ...i.path.map(String)].join('.')}: ${i.message}`);
  throw invalidInput(issues.join('; '));
}
