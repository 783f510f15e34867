import { outputKeys } from '../../domain/object-layout.js';

/**
 * Where an evaluation's outputs live in the `outputs` category (keys from src/domain/object-layout.ts):
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
export const outputPartsPrefix = outputKeys.parts;
export const outputPartKey = outputKeys.part;
export const checkpointsPrefix = outputKeys.checkpoints;
export const checkpointKey = outputKeys.checkpoint;
export const skippedKey = outputKeys.skipped;
export const verifiedPrefix = outputKeys.verified;
export const verifiedPartKey = outputKeys.verifiedPart;
export const summaryKey = outputKeys.summary;

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

export type { SkippedItem, SkippedItems } from '../../domain/artifacts.js';

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
