// The reference side of bench/ingest.ts: a bare DuckDB `COPY (SELECT * FROM read_csv(…)) TO '….parquet'` in a
// plain Node process, loading DuckDB as the ingest step's bundle does (require, no TypeScript loader), so that
// both sides start alike. Prints how long the COPY itself took (instance created, query run, instance closed).
//
//   node bench/ingest-copy.cjs <csv> <out.parquet>
'use strict';
const { DuckDBInstance, quotedString } = require('@duckdb/node-api');

async function main([csv, out]) {
  const start = performance.now();
  const instance = await DuckDBInstance.create();
  const connection = await instance.connect();
  await connection.run(
    `COPY (SELECT * FROM read_csv(${quotedString(csv)})) TO ${quotedString(out)} (FORMAT parquet)`,
  );
  connection.closeSync();
  instance.closeSync();
  console.log(JSON.stringify({ workSeconds: (performance.now() - start) / 1000 }));
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
