import type { Category } from './kinds.js';

/**
 * The vocabulary of the step catalogue: what a program may do to the object store, which network it needs, and
 * what it may take from the worker's environment. Pure types and small helpers, so workflows may import them.
 */

/**
 * What a program does under a prefix. `create` writes keys that do not exist yet; `overwrite` replaces an existing
 * object (a rerun, a rewritten manifest or log); `delete` removes one. GCS's Object Creator role allows only
 * `create`; `overwrite` and `delete` both need `storage.objects.delete` (Object Admin).
 */
export type Access = 'read' | 'create' | 'overwrite' | 'delete';

export interface Grant {
  category: Category;
  /**
   * The keys the grant covers, as a pattern over the step's input: `<id>/`, `<id>/.dyff/`, `<dataset>/data/`, …
   * (see object-layout.ts). Bucket IAM can only condition on the bucket, so the pattern is the contract the tests
   * and the documentation hold steps to; the cloud grant is per category.
   */
  prefix: string;
  access: readonly Access[];
}

/**
 * Where a program's traffic may go: `internet` (user-supplied sources and endpoints, never cluster services),
 * `storage` (the object store, Google APIs and DNS only), `none` (nothing outbound: it only answers requests).
 */
export type Network = 'internet' | 'storage' | 'none';

export interface StepEnvironmentRule {
  /** Worker variables that are settings (no secret): passed wherever the step runs. */
  settings: readonly string[];
  /**
   * Worker variables that are credentials of this step alone. Passed to local processes; a pod gets them as
   * secret references (never as plain values in its manifest), so the Kubernetes runners leave them out here.
   */
  secrets: readonly string[];
}

export const NO_ENVIRONMENT: StepEnvironmentRule = { settings: [], secrets: [] };

/** Roles outside the object store that an identity needs. */
export interface CloudNeeds {
  /** Datastore: `user` reads and writes entities, `viewer` reads them. */
  datastore?: 'user' | 'viewer';
  /** Submits Cloud Build jobs. */
  cloudBuild?: boolean;
  /** Pushes model images to the Artifact Registry repository. */
  pushesImages?: boolean;
}

/**
 * What a step's pod asks for, as Kubernetes quantities: `cpu` and `memory` requested (memory also the limit, so
 * that running out reads as OOMKilled), `scratch` its `/tmp` (requested and limited as `ephemeral-storage`, and the
 * emptyDir's size limit): every file a step downloads, stages or spills lives there.
 */
export interface StepResources {
  cpu: string;
  memory: string;
  scratch: string;
}

/**
 * Every step writes its log lines under its entity's `.dyff/logs/` prefix as numbered chunks, each created once
 * (log-layout.ts): create is all it needs.
 */
export const logGrant = (category: Category): Grant => ({
  category,
  prefix: '<id>/.dyff/logs/',
  access: ['create'],
});

/** Read, create, overwrite and delete: a step that owns everything under its entity's prefix. */
export const OWNS: readonly Access[] = ['read', 'create', 'overwrite', 'delete'];
export const READS: readonly Access[] = ['read'];
