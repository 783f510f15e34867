import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { DuckDBTypeId, quotedIdentifier as ident, quotedString } from '@duckdb/node-api';
import type { ReportSpec } from '../../domain/specs.js';
import { invalidInput } from '../errors.js';
import type { ReportInputs } from './inputs.js';

/**
 * Registers the views every rubric reads: `ds` (dataset rows), `outs` (verified outputs) and `scored`, one row per
 * (replication, item) to score: {rep, idx, truth, responses}, the dataset label joined on `_index_`, restricted to
 * the split, without the items verify listed as skipped and without unlabelled rows.
 */
export async function createViews(
  conn: DuckDBConnection,
  inputs: ReportInputs,
  spec: ReportSpec,
  ids: { evaluationId: string; datasetId: string },
): Promise<{ warnings: string[] }> {
  const { labelColumn, predictionField, split, splitColumn } = spec.parameters;
  const files = (paths: string[]) =>
    `read_parquet([${paths.map(quotedString).join(', ')}], union_by_name = true)`;
  await conn.run(`CREATE VIEW ds AS SELECT * FROM ${files(inputs.dataset)}`);
  await conn.run(`CREATE VIEW outs AS SELECT * FROM ${files(inputs.outputs)}`);

  const dsTypes = await columnTypes(conn, 'ds');
  const dataset = `dataset ${ids.datasetId}`;
  requireColumn(dsTypes, '_index_', `${dataset}: no _index_ column`);
  requireColumn(
    dsTypes,
    labelColumn,
    `spec.parameters.labelColumn: column ${JSON.stringify(labelColumn)} not in ${dataset}`,
  );
  if (split !== undefined) {
    requireColumn(
      dsTypes,
      splitColumn,
      `spec.parameters.splitColumn: column ${JSON.stringify(splitColumn)} not in ${dataset}`,
    );
  }
  const outTypes = await columnTypes(conn, 'outs');
  const outputs = `outputs/${ids.evaluationId}/verified`;
  for (const c of ['_index_', '_replication_', 'responses'])
    requireColumn(outTypes, c, `${outputs}: no ${c} column`);
  const fields = responseFields(outTypes.get('responses')!);
  if (!fields)
    throw invalidInput(
      `${outputs}: responses is ${String(outTypes.get('responses'))}, not a list of structs`,
    );
  if (!fields.includes(predictionField)) {
    throw invalidInput(
      `spec.parameters.predictionField: field ${JSON.stringify(predictionField)} not in the responses of ${outputs}; available: ${fields.join(', ')}`,
    );
  }

  await conn.run('CREATE TABLE skipped (idx BIGINT, rep VARCHAR)');
  await insertSkipped(conn, inputs);
  const inSplit =
    split === undefined ? 'TRUE' : `CAST(d.${ident(splitColumn)} AS VARCHAR) = ${quotedString(split)}`;
  await conn.run(`CREATE VIEW joined AS
    SELECT o._replication_ AS rep, o._index_ AS idx, CAST(d.${ident(labelColumn)} AS VARCHAR) AS truth,
           o.responses AS responses, ${inSplit} AS in_split
    FROM outs o JOIN ds d ON o._index_ = d._index_
    WHERE NOT EXISTS (SELECT 1 FROM skipped s WHERE s.idx = o._index_ AND (s.rep IS NULL OR s.rep = o._replication_))`);
  await conn.run(
    'CREATE VIEW scored AS SELECT rep, idx, truth, responses FROM joined WHERE in_split AND truth IS NOT NULL',
  );
  return { warnings: await checkJoin(conn, spec, { outputs, dataset }) };
}

async function columnTypes(conn: DuckDBConnection, view: string): Promise<Map<string, DuckDBType>> {
  const shape = await conn.runAndReadAll(`SELECT * FROM ${view} LIMIT 0`);
  return new Map(shape.columnNames().map((n, i) => [n, shape.columnTypes()[i]!]));
}

function requireColumn(types: Map<string, DuckDBType>, name: string, message: string) {
  if (!types.has(name)) throw invalidInput(`${message}; available: ${[...types.keys()].join(', ')}`);
}

function responseFields(type: DuckDBType): string[] | undefined {
  if (type.typeId !== DuckDBTypeId.LIST) return undefined;
  const entry = type.valueType;
  return entry.typeId === DuckDBTypeId.STRUCT ? [...entry.entryNames] : undefined;
}

async function insertSkipped(conn: DuckDBConnection, inputs: ReportInputs) {
  const appender = await conn.createAppender('skipped');
  for (const s of inputs.summary.skipped) {
    if (s._index_ === null) continue;
    appender.appendBigInt(BigInt(s._index_));
    if (s._replication_ === null) appender.appendNull();
    else appender.appendVarchar(s._replication_);
    appender.endRow();
  }
  appender.closeSync();
}

/** Inputs that join to nothing are a wrong dataset or split, not a model that scored zero. */
async function checkJoin(
  conn: DuckDBConnection,
  spec: ReportSpec,
  where: { outputs: string; dataset: string },
) {
  const { split, splitColumn, labelColumn } = spec.parameters;
  const row = (
    await conn.runAndReadAll(`SELECT
      (SELECT count(*) FROM outs)::DOUBLE AS outputs,
      (SELECT count(*) FROM outs o WHERE NOT EXISTS (SELECT 1 FROM ds d WHERE d._index_ = o._index_))::DOUBLE AS unmatched,
      (SELECT count(*) FROM joined WHERE in_split)::DOUBLE AS in_split,
      (SELECT count(*) FROM joined WHERE in_split AND truth IS NULL)::DOUBLE AS unlabelled`)
  ).getRowObjectsJS()[0] as Record<string, number>;
  const outputs = row.outputs ?? 0;
  const unmatched = row.unmatched ?? 0;
  if (outputs > 0 && unmatched === outputs) {
    throw invalidInput(
      `none of the ${outputs} rows of ${where.outputs} has an _index_ in ${where.dataset}: wrong --dataset?`,
    );
  }
  if (split !== undefined && row.in_split === 0) {
    const values = (
      await conn.runAndReadAll(
        `SELECT DISTINCT CAST(${ident(splitColumn)} AS VARCHAR) AS v FROM ds ORDER BY v LIMIT 20`,
      )
    )
      .getRowObjectsJS()
      .map((r) => String(r.v));
    throw invalidInput(
      `spec.parameters.split: no output of ${where.outputs} is in ${splitColumn} = ${JSON.stringify(split)}; values in ${where.dataset}: ${values.join(', ')}`,
    );
  }
  const warnings: string[] = [];
  if (unmatched > 0)
    warnings.push(`${unmatched} output row(s) have an _index_ not in ${where.dataset}; not scored`);
  if ((row.unlabelled ?? 0) > 0) {
    warnings.push(`${row.unlabelled} scored item(s) have no ${labelColumn} in ${where.dataset}; not scored`);
  }
  return warnings;
}
