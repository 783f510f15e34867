import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedString } from '@duckdb/node-api';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { VerifySummary } from '../domain/artifacts.js';
import { ErrorType } from '../domain/errors.js';
import type { EvaluationSpec } from '../domain/specs.js';
import type { StepContext } from './context.js';
import { invalidInput } from './errors.js';
import { readSkipped } from './evaluate/checkpoints.js';
import {
  createPairsTable,
  createReplicationsTable,
  createRowsView,
  datasetShards,
} from './evaluate/dataset.js';
import { outputPartsPrefix, summaryKey, verifiedPartKey, verifiedPrefix } from './evaluate/layout.js';
import { replicationIds } from '../uuid5.js';
import { openEngine } from './ingest/duckdb.js';
import { localFiles } from './local-files.js';

/** `outputs/<id>/verified/summary.json`, written last: verified parts exist and are whole once it does. */
export type { VerifySummary };

/** Rows per verified part. */
const VERIFIED_SHARD_ROWS = 500_000;
const EXAMPLES = 5;

/**
 * The verify-outputs step: reads every part the client wrote, applies duplicateOutputPolicy to pairs written more
 * than once (a restarted client may resend a few), checks completeness against dataset rows × replications minus
 * skipped items (missingOutputPolicy), and writes the verified parts sorted by (_replication_, _index_).
 */
export async function verifyOutputs(ctx: StepContext, { id, spec }: { id: string; spec: EvaluationSpec }) {
  const { log, objectStore: store, signal } = ctx;
  const scratch = join(ctx.workDir, id);
  await mkdir(join(scratch, 'verified'), { recursive: true });
  const engine = await openEngine(scratch, signal);
  const db = engine.connection;
  try {
    const parts = (await store.list('outputs', outputPartsPrefix(id))).filter((o) =>
      o.key.endsWith('.parquet'),
    );
    const files = await localFiles(store, 'outputs', parts, join(scratch, 'parts'), signal);
    await createRowsView(db, await datasetShards(store, spec.dataset, scratch, signal), spec);
    await createReplicationsTable(db, replicationIds(id, spec.replications));
    const skippedItems = await readSkipped(store, id);
    await createPairsTable(db, 'skipped', [], skippedItems, scratch);
    await createRawView(db, files);

    const duplicates = await rowsOf(
      db,
      `SELECT _index_, _replication_, count(*) AS n FROM raw GROUP BY ALL HAVING n > 1 ORDER BY _index_, _replication_`,
    );
    const duplicatesRemoved = await scalar(
      db,
      `SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM raw GROUP BY _index_, _replication_)`,
    );
    const policy = spec.client;
    if (duplicatesRemoved > 0 && policy.duplicateOutputPolicy === 'Error') {
      const examples = duplicates
        .slice(0, EXAMPLES)
        .map((d) => `(_index_ ${d._index_}, _replication_ ${d._replication_}) ×${d.n}`);
      throw invalidInput(
        `${duplicates.length} (_index_, _replication_) pair(s) have more than one output (duplicateOutputPolicy Error), e.g. ${examples.join(', ')}`,
        ErrorType.ManifestMismatch,
      );
    }
    const keepOne = policy.duplicateOutputPolicy === 'Deduplicate';
    // Among duplicates the first written is kept: parts are numbered in the order the client wrote them.
    await db.run(`CREATE TABLE kept AS SELECT _replication_, _index_, responses FROM raw
      ${keepOne ? 'QUALIFY row_number() OVER (PARTITION BY _index_, _replication_ ORDER BY filename) = 1' : ''}`);
    const unexpected = await scalar(
      db,
      `SELECT count(*) FROM kept ANTI JOIN (SELECT _index_, _replication_ FROM rows CROSS JOIN replications) e USING (_index_, _replication_)`,
    );
    if (unexpected > 0)
      log.warn(`${unexpected} output(s) are for pairs this evaluation does not have; left out`);
    await db.run(`CREATE TABLE verified AS SELECT k.* FROM kept k SEMI JOIN rows USING (_index_) SEMI JOIN replications USING (_replication_)
      ORDER BY _replication_, _index_`);

    const expected = await scalar(db, `SELECT count(*) FROM rows CROSS JOIN replications`);
    const skipped = await scalar(
      db,
      `SELECT count(*) FROM skipped SEMI JOIN rows USING (_index_) SEMI JOIN replications USING (_replication_)`,
    );
    const missingSql = `FROM rows CROSS JOIN replications ANTI JOIN verified USING (_index_, _replication_) ANTI JOIN skipped USING (_index_, _replication_)`;
    const missing = await scalar(db, `SELECT count(*) ${missingSql}`);
    if (missing > 0) {
      const examples = (
        await rowsOf(
          db,
          `SELECT rows._index_, replications._replication_ ${missingSql} ORDER BY 1, 2 LIMIT ${EXAMPLES}`,
        )
      ).map((m) => `(_index_ ${m._index_}, _replication_ ${m._replication_})`);
      const message = `${missing} of ${expected} outputs missing, e.g. ${examples.join(', ')}`;
      if (policy.missingOutputPolicy === 'Error') {
        throw invalidInput(
          `${message} (missingOutputPolicy Error): rerun the evaluation client to send them`,
          ErrorType.ManifestMismatch,
        );
      }
      log.warn(`${message} (missingOutputPolicy Ignore)`);
    }

    const written = await scalar(db, 'SELECT count(*) FROM verified');
    const partKeys = await writeVerified(ctx, id, db, written, join(scratch, 'verified'));
    const summary: VerifySummary = {
      expected,
      written,
      duplicatesRemoved: keepOne ? duplicatesRemoved : 0,
      missing,
      skipped,
      replications: spec.replications,
      unexpected,
      parts: partKeys.map((k) => k.slice(id.length + 1)),
      createdAt: new Date().toISOString(),
    };
    await store.put('outputs', summaryKey(id), JSON.stringify(summary, null, 2), {
      contentType: 'application/json',
    });
    log.info(
      `verified ${written} of ${expected} outputs (${summary.duplicatesRemoved} duplicates removed, ${skipped} skipped, ${missing} missing) into outputs/${verifiedPrefix(id)}`,
    );
    return summary;
  } finally {
    engine.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The view `raw` over every part, their schemas unified by name (a batch may have seen fewer response fields). */
async function createRawView(db: DuckDBConnection, files: readonly string[]): Promise<void> {
  if (files.length === 0) {
    await db.run(`CREATE VIEW raw AS SELECT NULL::VARCHAR AS _replication_, NULL::BIGINT AS _index_,
      []::STRUCT(_response_index_ BIGINT)[] AS responses, NULL::VARCHAR AS filename LIMIT 0`);
    return;
  }
  const list = `[${files.map(quotedString).join(', ')}]`;
  await db.run(`CREATE VIEW raw AS SELECT _replication_, _index_, responses, filename
    FROM read_parquet(${list}, union_by_name = true, filename = true)`);
}

/** Sorted shards of `verified`, replacing what an earlier run wrote; the summary (the manifest) goes first. */
async function writeVerified(ctx: StepContext, id: string, db: DuckDBConnection, rows: number, dir: string) {
  const store = ctx.objectStore;
  await store.delete('outputs', summaryKey(id));
  const shards = Math.max(1, Math.ceil(rows / VERIFIED_SHARD_ROWS));
  const keys: string[] = [];
  for (let i = 0; i < shards; i++) {
    ctx.signal?.throwIfAborted();
    const local = join(dir, `part-${i}.parquet`);
    const range =
      shards === 1
        ? ''
        : ` WHERE rowid >= ${i * VERIFIED_SHARD_ROWS} AND rowid < ${(i + 1) * VERIFIED_SHARD_ROWS}`;
    await db.run(`COPY (SELECT * FROM verified${range}) TO ${quotedString(local)} (FORMAT parquet)`);
    keys.push(verifiedPartKey(id, i));
    await store.putFile('outputs', verifiedPartKey(id, i), local);
    ctx.log.progress({
      done: Math.min(rows, (i + 1) * VERIFIED_SHARD_ROWS),
      total: rows,
      unit: 'rows',
      message: 'write verified',
    });
  }
  const keep = new Set([...keys, summaryKey(id)]);
  for (const stale of (await store.list('outputs', verifiedPrefix(id))).filter((o) => !keep.has(o.key))) {
    await store.delete('outputs', stale.key);
  }
  return keys;
}

async function rowsOf(db: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await db.runAndReadAll(sql))
    .getRowObjectsJS()
    .map((row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
    );
}

async function scalar(db: DuckDBConnection, sql: string): Promise<number> {
  const value = (await db.runAndReadAll(sql)).getRowsJS()[0]?.[0];
  return Number(value ?? 0);
}
