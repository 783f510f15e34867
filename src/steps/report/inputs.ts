import { createWriteStream } from 'node:fs';
import { datasetKeys, outputKeys } from '../../domain/object-layout.js';
import { access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as z from 'zod';
import { ErrorType } from '../../domain/errors.js';
import type { Category } from '../../domain/kinds.js';
import type { StepContext } from '../context.js';
import { errorMessage, invalidInput } from '../errors.js';
import type { SkippedItem } from './types.js';

/** What verify writes next to the verified shards; `skipped` and `missing` may be counts or lists. */
const Summary = z.looseObject({
  expected: z.number().optional(),
  written: z.number().optional(),
  missing: z.union([z.number(), z.array(z.unknown())]).optional(),
  skipped: z
    .union([
      z.number(),
      z.array(
        z.looseObject({
          _index_: z.number().nullish(),
          _replication_: z.string().nullish(),
          status: z.union([z.string(), z.number()]).nullish(),
          message: z.string().nullish(),
        }),
      ),
    ])
    .optional(),
});

export interface EvaluationSummary {
  skippedCount: number;
  skipped: SkippedItem[];
  missing: number | null;
}

export interface ReportInputs {
  outputs: string[];
  dataset: string[];
  summary: EvaluationSummary;
}

/**
 * Local Parquet paths of the verified outputs and of the dataset, and the verify summary. Missing inputs are the
 * user's to fix (run the evaluation, ingest the dataset), so they exit 2 with the path that was looked for.
 */
export async function locateInputs(
  ctx: StepContext,
  evaluationId: string,
  datasetId: string,
  scratch: string,
) {
  const verified = outputKeys.verified(evaluationId);
  const outputs = await parquetKeys(ctx, 'outputs', verified);
  if (outputs.length === 0) {
    throw invalidInput(`NoSuchEvaluation: outputs/${evaluationId}/verified not found`, ErrorType.NotFound);
  }
  const summary = await readSummary(ctx, outputKeys.summary(evaluationId));
  const dataset = await parquetKeys(ctx, 'datasets', datasetKeys.shards(datasetId));
  if (dataset.length === 0) {
    throw invalidInput(`NoSuchDataset: datasets/${datasetId}/data has no Parquet files`, ErrorType.NotFound);
  }
  return {
    outputs: await materialize(ctx, 'outputs', outputs, scratch),
    dataset: await materialize(ctx, 'datasets', dataset, scratch),
    summary,
  } satisfies ReportInputs;
}

async function parquetKeys(ctx: StepContext, category: Category, prefix: string): Promise<string[]> {
  const objects = await ctx.objectStore.list(category, prefix);
  return objects.map((o) => o.key).filter((k) => k.endsWith('.parquet'));
}

async function readSummary(ctx: StepContext, key: string): Promise<EvaluationSummary> {
  let text: string;
  try {
    text = (await ctx.objectStore.getBuffer('outputs', key)).toString('utf8');
  } catch {
    // Verify writes the summary last: without it the shards may be a partial, unverified set.
    throw invalidInput(
      `NoSuchEvaluation: outputs/${key} not found (verify has not finished)`,
      ErrorType.NotFound,
    );
  }
  let parsed;
  try {
    parsed = Summary.safeParse(JSON.parse(text));
  } catch (err) {
    throw invalidInput(`outputs/${key}: not valid JSON: ${errorMessage(err)}`);
  }
  if (!parsed.success)
    throw invalidInput(`outputs/${key}: not a verify summary: ${parsed.error.issues[0]?.message}`);
  const { skipped = 0, missing } = parsed.data;
  const items: SkippedItem[] = Array.isArray(skipped)
    ? skipped.map((s) => ({
        _index_: s._index_ ?? null,
        _replication_: s._replication_ ?? null,
        status: s.status === undefined || s.status === null ? null : String(s.status),
        message: s.message ?? null,
      }))
    : [];
  return {
    skippedCount: Array.isArray(skipped) ? skipped.length : skipped,
    skipped: items,
    missing: missing === undefined ? null : Array.isArray(missing) ? missing.length : missing,
  };
}

/** The store's own file when it has one (filesystem store), else a download into the scratch dir (GCS). */
async function materialize(ctx: StepContext, category: Category, keys: string[], scratch: string) {
  const out: string[] = [];
  for (const key of keys) {
    const inPlace = ctx.objectStore.localPath?.(category, key);
    if (
      inPlace !== undefined &&
      (await access(inPlace).then(
        () => true,
        () => false,
      ))
    ) {
      out.push(inPlace);
      continue;
    }
    const local = join(scratch, category, ...key.split('/'));
    await mkdir(dirname(local), { recursive: true });
    await pipeline(await ctx.objectStore.get(category, key), createWriteStream(local), {
      signal: ctx.signal,
    });
    out.push(local);
  }
  return out;
}
