import type { ServiceDescription } from '../domain/service.js';

/**
 * Runs inference sessions: a served model that an evaluation sends requests to, for as long as the evaluation
 * needs it. Local processes on a laptop, a Deployment + Service on Kubernetes. Sessions are named like jobs, and
 * `start` with a name that exists adopts the session.
 */
export interface SessionSpec {
  name: string;
  entityId: string;
  description: ServiceDescription;
  /** @default 1 */
  replicas?: number;
  accelerator?: { count: number; type?: string };
  /** The identity the session runs as, from the step catalogue (a pod's ServiceAccount). */
  serviceAccount?: string;
  /** CPU and memory per pod (Kubernetes quantities); local sessions ignore them. */
  resources?: { cpu?: string; memory?: string };
  spot?: boolean;
}

export type SessionPhase = 'starting' | 'ready' | 'failed';

export interface SessionStatus {
  name: string;
  phase: SessionPhase;
  /** Base URL of the session (requests go to endpoint + description.endpoint for process-backed runners). */
  endpoint?: string;
  reason?: string;
  logTail?: string[];
}

export interface SessionRunner {
  start(spec: SessionSpec): Promise<SessionStatus>;
  /** Resolves once the session answers its readiness probe; rejects if it fails or `timeoutMs` passes. */
  waitReady(
    name: string,
    opts?: { signal?: AbortSignal; timeoutMs?: number; onUpdate?: (s: SessionStatus) => void },
  ): Promise<SessionStatus>;
  status(name: string): Promise<SessionStatus | undefined>;
  /** Sessions started for this entity and not stopped: what a reaper must stop when the entity's run is gone. */
  list(entityId: string): Promise<SessionStatus[]>;
  /**
   * Let the sandboxed pods of one audit reach this session (Kubernetes: the per-audit NetworkPolicies); runners
   * without a network fence of their own do not implement it. Idempotent; `stop` removes what it added.
   */
  allowAudit?(name: string, auditEntityId: string): Promise<void>;
  /** Stop and remove everything the session started; idempotent. */
  stop(name: string): Promise<void>;
  close(): Promise<void>;
}
