import { createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ProcedureDescriptor } from '../../domain/audit-procedure.js';
import type { AuditSpec } from '../../domain/audit-spec.js';
import { ErrorType } from '../../domain/errors.js';
import type { Category } from '../../domain/kinds.js';
import { datasetKeys, outputKeys, reportKeys } from '../../domain/object-layout.js';
import type { ServiceDescription } from '../../domain/service.js';
import type { StepContext } from '../context.js';
import { invalidInput } from '../errors.js';
import { openEngine } from '../ingest/duckdb.js';

export interface StageRequest {
  spec: AuditSpec;
  descriptor: ProcedureDescriptor;
  dataset?: string;
  service?: ServiceDescription;
}

/**
 * The procedure's `inputs/`: `parameters.json` always, `service.json` when a service is audited, and what its
 * procedure.json asks for: `dataset/` and `evaluation/` (the Parquet shards as stored, and the same rows as
 * `rows.jsonl`, so a procedure needs no Parquet reader), `report/report.json`. Everything is made read-only.
 * Returns the names of what was staged.
 */
export async function stageInputs(ctx: StepContext, req: StageRequest, dir: string): Promise<string[]> {
  const { spec, descriptor } = req;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'parameters.json'), JSON.stringify(spec.parameters, null, 2));
  const staged = ['parameters.json'];
  if (req.service) {
    await writeFile(join(dir, 'service.json'), JSON.stringify(req.service, null, 2));
    staged.push('service.json');
  }
  const wants = new Set(descriptor.inputs);
  if (wants.has('dataset')) {
    if (!req.dataset)
      throw invalidInput('the procedure needs a dataset: set spec.dataset or spec.evaluation');
    await stageParquet(
      ctx,
      'datasets',
      datasetKeys.shards(req.dataset),
      join(dir, 'dataset'),
      `datasets/${req.dataset}`,
    );
    staged.push('dataset/');
  }
  if (wants.has('evaluation')) {
    if (!spec.evaluation) throw invalidInput('the procedure needs an evaluation: set spec.evaluation');
    const key = outputKeys.verified(spec.evaluation);
    await stageParquet(ctx, 'outputs', key, join(dir, 'evaluation'), `outputs/${key}`);
    staged.push('evaluation/');
  }
  if (wants.has('report')) {
    if (!spec.report) throw invalidInput('the procedure needs a report: set spec.report');
    await mkdir(join(dir, 'report'));
    await download(ctx, 'reports', reportKeys.document(spec.report), join(dir, 'report', 'report.json'));
    staged.push('report/report.json');
  }
  await readOnly(dir);
  return staged;
}

async function stageParquet(ctx: StepContext, category: Category, prefix: string, dir: string, name: string) {
  const shards = (await ctx.objectStore.list(category, prefix)).filter((o) => o.key.endsWith('.parquet'));
  if (shards.length === 0) throw invalidInput(`${name} has no Parquet shards`, ErrorType.NotFound);
  await mkdir(dir, { recursive: true });
  for (const [i, s] of shards.entries()) await download(ctx, category, s.key, join(dir, `part-${i}.parquet`));
  const engine = await openEngine(join(dir, '..', '..', 'duckdb'), ctx.signal);
  try {
    const glob = join(dir, '*.parquet').replaceAll("'", "''");
    const out = join(dir, 'rows.jsonl').replaceAll("'", "''");
    await engine.connection.run(`COPY (SELECT * FROM read_parquet('${glob}')) TO '${out}' (FORMAT JSON)`);
  } finally {
    engine.close();
  }
  ctx.log.info(`staged ${shards.length} shard(s) of ${name}`);
}

async function download(ctx: StepContext, category: Category, key: string, file: string) {
  await pipeline(await ctx.objectStore.get(category, key), createWriteStream(file));
}

/** Files 0444, folders 0555: the procedure reads its inputs and cannot change them for a later reader. */
async function readOnly(path: string): Promise<void> {
  if ((await stat(path)).isDirectory()) {
    for (const e of await readdir(path)) await readOnly(join(path, e));
    await chmod(path, 0o555);
  } else await chmod(path, 0o444);
}
