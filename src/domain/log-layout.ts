/**
 * Where step logs live in the object store: numbered chunks, each written once, per step and try:
 *
 *   <category>/<id>/.dyff/logs/<step>/<try>/<seq>.txt     e.g. datasets/<id>/.dyff/logs/fetch-data/001/000000000.txt
 *
 * A chunk is created and never rewritten, so a create-only role (Storage Object Creator) can write logs and no object
 * gets more than one write. Try and sequence are zero-padded so that a listing's lexical order is write order; readers
 * still sort by the numbers, so a sequence that outgrows its padding stays in place. Entities written before chunked
 * logs keep one object, `<id>/.dyff/logs.txt`, which readers fall back to.
 */
import { DyffError, ErrorType } from './errors.js';

/** How a step writes a progress report into its log: this prefix, then the report as JSON, on one line. */
export const PROGRESS_PREFIX = '::progress::';

/** Try 0 is a step run by hand (`dyffctl step` with no job name); job runners count tries from 1. */
export const HAND_RUN_TRY = 0;

const TRY_DIGITS = 3;
/** Room for reruns by hand: each starts a million further on (see the chunk writer). */
const SEQ_DIGITS = 9;
const STEP_NAME = /^[a-z][a-z0-9-]*$/;

/** The single log object of entities written before chunked logs (read only, never written any more). */
export function legacyLogKey(id: string): string {
  return `${id}/.dyff/logs.txt`;
}

/** Every chunk of an entity's logs, of one step, or of one step's try. */
export function logPrefix(id: string, step?: string, attempt?: number): string {
  if (step === undefined) return `${id}/.dyff/logs/`;
  checkStep(step);
  if (attempt === undefined) return `${id}/.dyff/logs/${step}/`;
  return `${id}/.dyff/logs/${step}/${pad(attempt, TRY_DIGITS)}/`;
}

export function logChunkKey(id: string, step: string, attempt: number, seq: number): string {
  return `${logPrefix(id, step, attempt)}${pad(seq, SEQ_DIGITS)}.txt`;
}

export interface LogChunkRef {
  step: string;
  try: number;
  seq: number;
}

/** The step, try and sequence number of a chunk key of entity `id`; undefined for any other key. */
export function parseLogChunkKey(id: string, key: string): LogChunkRef | undefined {
  const prefix = logPrefix(id);
  if (!key.startsWith(prefix)) return undefined;
  const m = /^([a-z][a-z0-9-]*)\/(\d+)\/(\d+)\.txt$/.exec(key.slice(prefix.length));
  if (!m) return undefined;
  return { step: m[1]!, try: Number(m[2]), seq: Number(m[3]) };
}

/**
 * The try a job runs, read from its name: runners name each job `<stage>-<entity>-<try>` (see `jobName`) and hand
 * the name to the step as `DYFF_JOB_NAME`. No name (a step run by hand) is try 0; a name of another shape gives
 * undefined, and the caller says so and logs as try 0: a log is no reason to fail a step, and a second writer of
 * the same keys only moves on to later chunk numbers.
 */
export function tryOfJobName(jobName: string | undefined, entityId: string): number | undefined {
  if (jobName === undefined || jobName === '') return HAND_RUN_TRY;
  const m = new RegExp(`-${entityId.toLowerCase()}-([0-9]+)$`).exec(jobName);
  return m ? Number(m[1]) : undefined;
}

function checkStep(step: string): void {
  if (!STEP_NAME.test(step))
    throw new DyffError(ErrorType.InvalidSpec, `invalid step name for a log key: ${JSON.stringify(step)}`);
}

const pad = (n: number, digits: number): string => {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new DyffError(ErrorType.InvalidSpec, `log key numbers are whole numbers ≥ 0, got ${n}`);
  return String(n).padStart(digits, '0');
};
