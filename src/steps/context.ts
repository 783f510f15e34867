import type { Category } from '../domain/kinds.js';
import { logChunkKey, PROGRESS_PREFIX } from '../domain/log-layout.js';
import type { Limits } from '../config.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { EgressPolicy } from './net/egress-guard.js';
import type { SecretResolver } from '../secrets/resolver.js';
import { createChunkWriter } from './log-chunks.js';

/** What a step program gets from its runner: the store, a log, limits, a cancel signal and a scratch directory. */
export interface StepContext {
  objectStore: ObjectStore;
  log: StepLog;
  limits: Limits;
  /** Where user-supplied sources may reach: local roots, and the egress policy for every connection. */
  sources: {
    localRoots: readonly string[];
    egress: EgressPolicy;
    /** The worker's GCS endpoint and project, which `gs://` sources are read through. @default real GCS */
    gcs?: { apiEndpoint?: string; projectId?: string };
  };
  /** Looks up the secrets a spec names, where the step uses them (never in arguments or logs). */
  secrets: SecretResolver;
  /** Aborted on SIGTERM: steps stop their transfers and queries and throw. */
  signal?: AbortSignal;
  /** Scratch space that survives a rerun on the same machine (partial downloads, DuckDB spill files). */
  workDir: string;
  /** Retries for transient source errors (5xx, connection resets). @default { attempts: 4, baseDelayMs: 500 } */
  retry?: RetryPolicy;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

export interface Progress {
  done: number;
  total?: number;
  unit: string;
  message?: string;
  /** Transient failures met so far, by kind (`HTTP 429`, `timeout`, `connection`, …), each one retried. */
  retries?: Record<string, number>;
}

export interface StepLog {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /**
   * Printed as one `::progress::{json}` line, at most about once a second; a report with done == total is printed
   * at once, and the newest held-back report is printed by `close` unless an error was logged.
   */
  progress(p: Progress): void;
  /** Write buffered lines to the object store now (on a signal; otherwise they go within a second). */
  flush(): Promise<void>;
  /** Print a held-back progress report and flush. */
  close(): Promise<void>;
}

export { PROGRESS_PREFIX };

export interface StepLogOptions {
  objectStore: ObjectStore;
  category: Category;
  id: string;
  /** The step program's name: its chunks go under `logs/<step>/<try>/`. */
  step: string;
  /** The job's try (from `DYFF_JOB_NAME`; 0 when run by hand). */
  attempt: number;
  /** Where lines go besides the store. @default process.stdout */
  write?: (line: string) => void;
  progressIntervalMs?: number;
  /** How often buffered lines are written, at least 1000. @default 1000 */
  flushIntervalMs?: number;
  now?: () => number;
}

/**
 * Every line goes to stdout (the job runner tails it) and to numbered chunks under
 * `<category>/<id>/.dyff/logs/<step>/<try>/` (see `src/domain/log-layout.ts`), so logs outlive the process or pod.
 * Lines are batched and written at most once a second, each batch as a new object, and at the end; a slow store does
 * not slow the step down.
 */
export function createStepLog(opts: StepLogOptions): StepLog {
  const write = opts.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const now = opts.now ?? Date.now;
  const interval = opts.progressIntervalMs ?? 1000;
  const chunks = createChunkWriter({
    objectStore: opts.objectStore,
    category: opts.category,
    keyOf: (seq) => logChunkKey(opts.id, opts.step, opts.attempt, seq),
    intervalMs: opts.flushIntervalMs,
  });
  let lastProgressAt = -Infinity;
  let pending: Progress | undefined;
  let failed = false;

  const emit = (line: string) => {
    write(line);
    chunks.add(`${new Date(now()).toISOString()} ${line}\n`);
  };
  const printProgress = (p: Progress) => {
    emit(`${PROGRESS_PREFIX}${JSON.stringify(p)}`);
    lastProgressAt = now();
    pending = undefined;
  };

  return {
    info: (msg) => emit(msg),
    warn: (msg) => emit(`warn: ${msg}`),
    error(msg) {
      failed = true;
      emit(`error: ${msg}`);
    },
    progress(p) {
      const complete = p.total !== undefined && p.done >= p.total;
      if (complete || now() - lastProgressAt >= interval) printProgress(p);
      else pending = p;
    },
    flush: () => chunks.flush(),
    async close() {
      // After an error the held-back report is stale, and the error must stay the last line.
      if (pending && !failed) printProgress(pending);
      await chunks.close();
    },
  };
}
