import { invalidInput } from '../errors.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedIdentifier as ident } from '@duckdb/node-api';
import type { ReportSpec } from '../../domain/specs.js';
import { byLabel, f1, mean, ratio, rows, spread } from './stats.js';
import type { ClassMetrics, Confusion, ReplicationMetrics, ReportDocument } from './types.js';

type Scores = Pick<ReportDocument, 'headline' | 'metrics' | 'perClass' | 'confusion' | 'replications'>;

/**
 * Classification rubrics over the `scored` view. The top-1 prediction is the first response (verify keeps them
 * sorted by score, best first); an item is top-k correct when its label is among the first k. DuckDB only
 * aggregates (truth, prediction) pairs, so the work in JS is proportional to labels², not to items.
 */
export async function scoreClassification(
  conn: DuckDBConnection,
  spec: ReportSpec,
  maxLabels = 1000,
): Promise<Scores> {
  const { predictionField, k } = spec.parameters;
  const field = ident(predictionField);
  await conn.run(`CREATE VIEW predictions AS
    SELECT rep, truth, CAST(responses[1].${field} AS VARCHAR) AS pred,
           coalesce(list_contains(list_transform(responses[1:${k}], lambda r: CAST(r.${field} AS VARCHAR)), truth), false) AS topk
    FROM scored`);
  // Counted first: the confusion matrix and its pairs grow with labels², and free-text "labels" are unbounded.
  const [distinct] = await rows(
    conn,
    `SELECT count(*) AS n FROM (SELECT truth FROM predictions UNION SELECT pred FROM predictions WHERE pred IS NOT NULL)`,
  );
  if (Number(distinct?.n ?? 0) > maxLabels) {
    throw invalidInput(
      `${String(distinct!.n)} distinct labels (true and predicted) is more than limits.maxReportLabels (${maxLabels}); is parameters.predictionField a free-text field?`,
    );
  }
  const pairs = await rows(conn, 'SELECT truth, pred, count(*) AS n FROM predictions GROUP BY ALL');
  const perRep = await rows(
    conn,
    `SELECT rep, count(*) AS scored, count(*) FILTER (WHERE truth = pred) AS correct,
            count(*) FILTER (WHERE topk) AS topk
     FROM predictions GROUP BY rep ORDER BY rep`,
  );

  const confusion = confusionOf(pairs as { truth: string; pred: string | null; n: number }[]);
  const perClass = classMetrics(confusion);
  const replications: ReplicationMetrics[] = perRep.map((r) => {
    const [scored, correct, topk] = [Number(r.scored), Number(r.correct), Number(r.topk)];
    const rep: ReplicationMetrics = {
      replication: String(r.rep),
      scored,
      correct,
      score: ratio(correct, scored),
    };
    return { ...rep, topKCorrect: topk, topKAccuracy: ratio(topk, scored) };
  });
  const scored = sum(replications.map((r) => r.scored));
  const correct = sum(replications.map((r) => r.correct));
  const topKCorrect = sum(replications.map((r) => r.topKCorrect ?? 0));
  const predicted = sum(perClass.map((c) => c.predicted));
  const microPrecision = ratio(correct, predicted);
  const microRecall = ratio(correct, scored);
  const metrics: Record<string, number | null> = {
    accuracy: ratio(correct, scored),
    topKAccuracy: ratio(topKCorrect, scored),
    k,
    scored,
    correct,
    topKCorrect,
    macroPrecision: mean(perClass.map((c) => c.precision)),
    macroRecall: mean(perClass.map((c) => c.recall)),
    macroF1: mean(perClass.map((c) => c.f1)),
    microPrecision,
    microRecall,
    microF1: microPrecision === null || microRecall === null ? null : f1(microPrecision, microRecall),
    ...spread('accuracy', replications),
  };
  const headline = spec.rubric === 'classification.topKAccuracy' ? 'topKAccuracy' : 'accuracy';
  return { headline, metrics, perClass, confusion, replications };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function confusionOf(pairs: { truth: string; pred: string | null; n: number }[]): Confusion {
  const set = new Set<string>();
  for (const p of pairs) {
    set.add(p.truth);
    if (p.pred !== null) set.add(p.pred);
  }
  const labels = [...set].sort(byLabel);
  const at = new Map(labels.map((l, i) => [l, i]));
  const matrix = labels.map(() => labels.map(() => 0));
  const noPrediction = labels.map(() => 0);
  for (const p of pairs) {
    const i = at.get(p.truth)!;
    if (p.pred === null) noPrediction[i]! += p.n;
    else matrix[i]![at.get(p.pred)!]! += p.n;
  }
  return noPrediction.some((n) => n > 0) ? { labels, matrix, noPrediction } : { labels, matrix };
}

/** Per label over the union of true and predicted labels, as scikit-learn's classification_report counts them. */
function classMetrics({ labels, matrix, noPrediction }: Confusion): ClassMetrics[] {
  return labels.map((label, i) => {
    const row = matrix[i]!;
    const support = sum(row) + (noPrediction?.[i] ?? 0);
    const predicted = sum(matrix.map((r) => r[i]!));
    const truePositives = row[i]!;
    const precision = ratio(truePositives, predicted) ?? 0;
    const recall = ratio(truePositives, support) ?? 0;
    return { label, support, predicted, truePositives, precision, recall, f1: f1(precision, recall) };
  });
}
