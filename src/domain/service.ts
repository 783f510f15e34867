import type { EnvValue, SecretRef } from './secrets.js';

/**
 * What building an InferenceService produces: how to run it and how to talk to it. The embedded builder makes no
 * image; a session runner starts `command` (or, for remote runners, just uses `endpoint`).
 */
export interface ServiceDescription {
  serviceId: string;
  runner: 'standalone' | 'openai' | 'http';
  /** For process-backed runners: arguments after `dyffctl`, e.g. ['serve-model', '--model', '<id>']. */
  command?: string[];
  /** Extra environment for the process; the session runner also sets PORT. Secrets stay references here. */
  env?: Record<string, EnvValue>;
  /** The endpoint's API key (openai, http), by reference: the evaluate step resolves it. */
  apiKey?: SecretRef;
  /** Readiness probe path for process-backed runners, e.g. '/ready'. */
  readinessPath?: string;
  /** A path on the session (standalone) or a full URL (openai, http) that takes one inference request. */
  endpoint: string;
  /** How a dataset row becomes a request body and a response becomes output records. */
  interface: {
    inputPipeline?: { kind: 'TransformJSON'; configuration: Record<string, unknown> }[];
    outputPipeline?: {
      kind: 'TransformJSON' | 'ExplodeCollections';
      configuration: Record<string, unknown>;
    }[];
  };
  model?: string;
  /**
   * The container image a session runs (standalone runner): the spec's prebuilt `image`, or what the image builder
   * built from `build` (pinned by digest). Unset: the project's own image, which serves the model with `command`.
   */
  image?: string;
  /** The image's tag where it was built locally (`builder: docker`): a readable name for `image`. */
  imageTag?: string;
  /** Where a session of this service runs (standalone runner): GPUs, CPU and memory per pod, spot nodes. */
  placement?: {
    accelerator?: { count: number; type?: string };
    resources?: { cpu?: string; memory?: string };
    spot?: boolean;
  };
}
