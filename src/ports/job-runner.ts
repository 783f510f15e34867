import type { JobOutcome } from '../domain/job-outcome.js';
import type { SecretRef } from '../domain/secrets.js';

/**
 * Runs a step program to completion somewhere: a local child process or a Kubernetes Job.
 *
 * Jobs are named deterministically (see `jobName`), and `start` with a name that exists adopts that job, running
 * or finished, instead of starting a second one. That is what lets a retried activity pick up the job its crashed
 * predecessor started.
 */
export interface JobSpec {
  /** Unique, deterministic, DNS-label safe: from (entity id, stage, try). */
  name: string;
  /** The entity this job works for, and the step stage, recorded as labels. */
  entityId: string;
  stage: string;
  /** Step program arguments after `dyffctl step`, e.g. ['ingest-dataset', '--id', '…']. */
  args: string[];
  env?: Record<string, string>;
  /**
   * Secrets the step may read, by reference. A Kubernetes Job receives each as a `secretKeyRef` in the variable
   * `secretEnvName(ref)`; a local step resolves them itself from the data home.
   */
  secrets?: SecretRef[];
  /** Kill the job after this long. */
  activeDeadlineSeconds?: number;
  /** Which identity (service account) runs the step; runners that have none ignore it. */
  serviceAccount?: string;
  resources?: { cpu?: string; memory?: string; gpu?: { count: number; type?: string }; spot?: boolean };
}

export type JobPhase = 'pending' | 'running' | 'succeeded' | 'failed';

/** What every status says, whatever the phase. */
interface JobStatusFields {
  name: string;
  exitCode?: number;
  /** Why a failed job failed, in words an operator can act on (`exit code 3`, `OOMKilled`, `deleted`). */
  reason?: string;
  /** The last lines the step printed. */
  logTail?: string[];
  /** The newest `::progress::{json}` line the step printed, parsed. */
  progress?: { done?: number; total?: number; unit?: string; message?: string };
  startTime?: string;
  completionTime?: string;
}

/**
 * A job's status. A finished job always carries its `outcome`, set by the runner from what it saw (exit code,
 * signal, pod condition, a job gone): the workflow starts a new try for the retryable ones, and nobody reads the
 * ending from the wording of `reason`. A job still pending or running has none.
 */
export type JobStatus = JobStatusFields &
  (
    | { phase: 'pending' | 'running'; outcome?: undefined }
    | { phase: 'succeeded'; outcome: 'succeeded' }
    | { phase: 'failed'; outcome: Exclude<JobOutcome, 'succeeded'> }
  );

export interface StartResult {
  /** true when a job of that name already existed and was adopted. */
  adopted: boolean;
  status: JobStatus;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Called with each new status (and at least every few seconds while running) — activities heartbeat here. */
  onUpdate?: (status: JobStatus) => void;
}

export interface JobRunner {
  start(spec: JobSpec): Promise<StartResult>;
  /** undefined when no job of that name exists (never started, or deleted). */
  status(name: string): Promise<JobStatus | undefined>;
  /** Resolves with the terminal status; a job that vanishes while waited on resolves failed with a reason. */
  wait(name: string, opts?: WaitOptions): Promise<JobStatus>;
  /** Stop the job and everything it started; idempotent, and a no-op for an unknown name. */
  cancel(name: string): Promise<void>;
  /** Names of jobs labelled with this entity. */
  list(entityId: string): Promise<JobStatus[]>;
  close(): Promise<void>;
}

export { jobName } from '../domain/naming.js';
