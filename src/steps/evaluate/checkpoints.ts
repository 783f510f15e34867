import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedString } from '@duckdb/node-api';
import type { ObjectStore } from '../../ports/object-store.js';
import type { StepLog } from '../context.js';
import { localFiles } from '../local-files.js';
import type { DoneRanges, OutputCheckpoint, SkippedItem, SkippedItems } from './layout.js';
import {
  checkpointKey,
  checkpointsPrefix,
  outputPartsPrefix,
  seqOf,
  skippedKey,
  toRanges,
} from './layout.js';

/** What an earlier run of the client left: the pairs already written, the items skipped, the next part number. */
export interface EvaluationProgress {
  done: DoneRanges[];
  skipped: SkippedItem[];
  nextSeq: number;
  parts: number;
}

/**
 * Reads the checkpoints of the parts already written. A part whose checkpoint is missing (the client stopped
 * between the two writes) is read back with DuckDB and its checkpoint written, so its items are not sent again.
 */
export async function loadProgress(
  store: ObjectStore,
  id: string,
  connection: DuckDBConnection,
  scratch: string,
  log: StepLog,
): Promise<EvaluationProgress> {
  const parts = (await store.list('outputs', outputPartsPrefix(id))).filter((o) =>
    o.key.endsWith('.parquet'),
  );
  const checkpoints = new Map(
    (await store.list('outputs', checkpointsPrefix(id))).map((o) => [seqOf(o.key), o] as const),
  );
  const done: DoneRanges[] = [];
  let nextSeq = 0;
  for (const part of parts) {
    const seq = seqOf(part.key);
    if (seq === undefined) continue;
    nextSeq = Math.max(nextSeq, seq + 1);
    const checkpoint = checkpoints.get(seq);
    if (checkpoint) {
      const doc = JSON.parse(
        (await store.getBuffer('outputs', checkpoint.key)).toString('utf8'),
      ) as OutputCheckpoint;
      done.push(doc.done);
      continue;
    }
    const [local] = await localFiles(store, 'outputs', [part], scratch);
    const recovered = await pairsOf(connection, local!);
    const doc: OutputCheckpoint = {
      part: part.key.slice(id.length + 1),
      rows: recovered.rows,
      md5: part.md5,
      done: recovered.done,
    };
    await store.put('outputs', checkpointKey(id, seq), JSON.stringify(doc));
    log.info(
      `recovered the checkpoint of ${doc.part} (${doc.rows} outputs written before the client stopped)`,
    );
    done.push(doc.done);
  }
  for (const seq of checkpoints.keys()) if (seq !== undefined) nextSeq = Math.max(nextSeq, seq + 1);
  return { done, skipped: await readSkipped(store, id), nextSeq, parts: parts.length };
}

async function pairsOf(
  connection: DuckDBConnection,
  file: string,
): Promise<{ rows: number; done: DoneRanges }> {
  const reader = await connection.runAndReadAll(
    `SELECT _replication_, list(_index_) AS indexes, count(*) AS n FROM read_parquet(${quotedString(file)}) GROUP BY ALL`,
  );
  const done: DoneRanges = {};
  let rows = 0;
  for (const row of reader.getRowObjectsJS()) {
    done[row._replication_ as string] = toRanges((row.indexes as bigint[]).map(Number));
    rows += Number(row.n);
  }
  return { rows, done };
}

export async function readSkipped(store: ObjectStore, id: string): Promise<SkippedItem[]> {
  if (!(await store.stat('outputs', skippedKey(id)))) return [];
  return (JSON.parse((await store.getBuffer('outputs', skippedKey(id))).toString('utf8')) as SkippedItems)
    .items;
}
