/**
 * Where an evaluation's outputs live in the `outputs` category:
 *
 *     <id>/data/part-<seq>.parquet          one checkpointed batch of {_replication_, _index_, responses}
 *     <id>/checkpoints/part-<seq>.json      which (_index_, _replication_) pairs that part holds (OutputCheckpoint)
 *     <id>/skipped.json                     items the bad-request policy skipped (SkippedItems)
 *     <id>/verified/part-<n>.parquet        deduplicated, complete outputs (verify-outputs)
 *     <id>/verified/summary.json            what verify-outputs found (VerifySummary)
 *
 * A part and its checkpoint are written in that order, each atomically; a part without its checkpoint (the client
 * stopped in between) is read back on restart.
 */
const seq5 = (n: number) => String(n).padStart(5, '0');

export const outputPartsPrefix = (id: string) => `${id}/data/`;
export const outputPartKey = (id: string, seq: number) => `${id}/data/part-${seq5(seq)}.parquet`;
export const checkpointsPrefix = (id: string) => `${id}/checkpoints/`;
export const checkpointKey = (id: string, seq: number) => `${id}/checkpoints/part-${seq5(seq)}.json`;
export const skippedKey = (id: string) => `${id}/skipped.json`;
export const verifiedPrefix = (id: string) => `${id}/verified/`;
export const verifiedPartKey = (id: string, n: number) => `${id}/verified/part-${seq5(n)}.parquet`;
export const summaryKey = (id: string) => `${id}/verified/summary.json`;

/** The sequence number of a part or checkpoint key, or undefined for any other key. */
export function seqOf(key: string): number | undefined {
  const m = /\/part-(\d+)\.(?:parquet|json)$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** Inclusive ranges of `_index_` per `_replication_`: compact for the mostly consecutive indexes a batch holds. */
export type DoneRanges = Record<string, [number, number][]>;

export interface OutputCheckpoint {
  part: string;
  rows: number;
  md5: string;
  done: DoneRanges;
}

export interface SkippedItem {
  _index_: number;
  _replication_: string;
  status: number;
  error: string;
}

export interface SkippedItems {
  items: SkippedItem[];
}

export function toRanges(indexes: number[]): [number, number][] {
  const sorted = [...indexes].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const i of sorted) {
    const last = ranges.at(-1);
    if (last && i <= last[1] + 1) last[1] = Math.max(last[1], i);
    else ranges.push([i, i]);
  }
  return ranges;
}
