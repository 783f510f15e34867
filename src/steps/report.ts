import { reportKeys } from '../domain/object-layout.js';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReportSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { dataError, openEngine } from './ingest/duckdb.js';
import { parseReportArgs } from './report/args.js';
import { scoreClassification } from './report/classification.js';
import { scoreExactMatch } from './report/exact-match.js';
import { reportHtml } from './report/html.js';
import { locateInputs } from './report/inputs.js';
import type { InstanceRow, ReportDocument } from './report/types.js';
import { createViews } from './report/views.js';

export interface ReportInput {
  /** The Report id: writes `reports/<id>/report.json`, `index.html` and, for text rubrics, `instances.parquet`. */
  id: string;
  spec: ReportSpec;
  /** The step's own options as given: `dataset` (required), `lineage` and `history` (JSON). */
  options: Record<string, string | undefined>;
}

/**
 * The report step: verified outputs ⨝ dataset rows (DuckDB) → rubric metrics → `report.json` + a self-contained
 * `index.html`. It only reads its inputs, so a rerun rewrites the same three objects.
 */
export async function runReport(
  ctx: StepContext,
  { id, spec, options }: ReportInput,
): Promise<ReportDocument> {
  const { log, objectStore: store } = ctx;
  const args = parseReportArgs(options, spec);
  const scratch = join(ctx.workDir, id);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  try {
    const inputs = await locateInputs(ctx, spec.evaluation, args.datasetId, join(scratch, 'in'));
    log.info(
      `score ${spec.rubric} over ${inputs.outputs.length} output shard(s) of evaluation ${spec.evaluation} and ${inputs.dataset.length} shard(s) of dataset ${args.datasetId}`,
    );
    const engine = await openEngine(scratch, ctx.signal);
    let scores: Awaited<ReturnType<typeof scoreClassification>> & { firstRows?: InstanceRow[] };
    const instancesLocal = join(scratch, 'instances.parquet');
    try {
      const ids = { evaluationId: spec.evaluation, datasetId: args.datasetId };
      const { warnings } = await createViews(engine.connection, inputs, spec, ids);
      for (const w of warnings) log.warn(w);
      scores =
        spec.rubric === 'text.exactMatch'
          ? await scoreExactMatch(engine.connection, spec, instancesLocal)
          : await scoreClassification(engine.connection, spec, ctx.limits.maxReportLabels);
    } catch (err) {
      // A corrupt or mistyped shard is named by its store path, not by a scratch path.
      throw dataError(err, localNames(inputs, spec.evaluation, args.datasetId));
    } finally {
      engine.close();
    }

    const { firstRows, ...metrics } = scores;
    const doc: ReportDocument = {
      reportId: id,
      rubric: spec.rubric,
      parameters: spec.parameters,
      createdAt: new Date().toISOString(),
      evaluationId: spec.evaluation,
      datasetId: args.datasetId,
      lineage: args.lineage,
      ...metrics,
      skipped: { count: inputs.summary.skippedCount, items: inputs.summary.skipped },
      missing: inputs.summary.missing,
      history: args.history,
    };
    if (firstRows) {
      const key = reportKeys.instances(id);
      await store.putFile('reports', key, instancesLocal);
      doc.instances = { key, rows: doc.metrics.scored ?? 0 };
    }
    await store.put('reports', reportKeys.page(id), reportHtml(doc, firstRows), { contentType: 'text/html' });
    // report.json goes last: a reader (the next run's --history, the workflow) that finds it finds the page too.
    await store.put('reports', reportKeys.document(id), JSON.stringify(doc, null, 2), {
      contentType: 'application/json',
    });
    const headline = doc.metrics[doc.headline];
    log.info(
      `${doc.headline} ${headline === null || headline === undefined ? 'n/a' : headline.toFixed(4)} over ${doc.metrics.scored} scored item(s), ${doc.skipped.count} skipped; wrote reports/${id}/report.json and index.html`,
    );
    return doc;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function localNames(
  inputs: { outputs: string[]; dataset: string[] },
  evaluationId: string,
  datasetId: string,
) {
  const names = new Map<string, string>();
  for (const p of inputs.outputs) names.set(p, `outputs/${evaluationId}/verified/${p.split('/').at(-1)}`);
  for (const p of inputs.dataset) names.set(p, `datasets/${datasetId}/data/${p.split('/').at(-1)}`);
  return names;
}
