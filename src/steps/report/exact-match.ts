import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedIdentifier as ident, quotedString } from '@duckdb/node-api';
import type { ReportSpec } from '../../domain/specs.js';
import { ratio, rows, spread } from './stats.js';
import type { InstanceRow, ReplicationMetrics, ReportDocument } from './types.js';

type Scores = Pick<ReportDocument, 'headline' | 'metrics' | 'replications'> & { firstRows: InstanceRow[] };

/** Rows of the per-instance table shown in the HTML; the Parquet file has them all. */
export const HTML_INSTANCE_ROWS = 100;

// Generated text often ends in a newline; DuckDB's trim() only strips spaces.
const normalized = (sql: string) => `regexp_replace(${sql}, '^\\s+|\\s+$', '', 'g')`;

/**
 * `text.exactMatch`: the first response's text against the dataset's label, both trimmed, case-sensitive. Writes
 * the per-instance table {_index_, _replication_, expected, got, match} to `parquetPath`.
 */
export async function scoreExactMatch(
  conn: DuckDBConnection,
  spec: ReportSpec,
  parquetPath: string,
): Promise<Scores> {
  const field = ident(spec.parameters.predictionField);
  await conn.run(`CREATE VIEW instances AS
    SELECT idx AS _index_, rep AS _replication_, truth AS expected, got,
           coalesce(${normalized('truth')} = ${normalized('got')}, false) AS match
    FROM (SELECT *, CAST(responses[1].${field} AS VARCHAR) AS got FROM scored)`);
  await conn.run(
    `COPY (SELECT * FROM instances ORDER BY _index_, _replication_) TO ${quotedString(parquetPath)} (FORMAT parquet)`,
  );
  const perRep = await rows(
    conn,
    `SELECT _replication_ AS rep, count(*) AS scored, count(*) FILTER (WHERE match) AS correct
     FROM instances GROUP BY rep ORDER BY rep`,
  );
  const firstRows = (await rows(
    conn,
    `SELECT * FROM instances ORDER BY _index_, _replication_ LIMIT ${HTML_INSTANCE_ROWS}`,
  )) as unknown as InstanceRow[];
  const replications: ReplicationMetrics[] = perRep.map((r) => {
    const [scored, correct] = [Number(r.scored), Number(r.correct)];
    return { replication: String(r.rep), scored, correct, score: ratio(correct, scored) };
  });
  const scored = replications.reduce((a, r) => a + r.scored, 0);
  const matched = replications.reduce((a, r) => a + r.correct, 0);
  const metrics = {
    exactMatch: ratio(matched, scored),
    scored,
    matched,
    ...spread('exactMatch', replications),
  };
  return { headline: 'exactMatch', metrics, replications, firstRows };
}
