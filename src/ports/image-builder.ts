/**
 * Container image builds: turn an inference service's source tarball into an image in a registry.
 *
 * Errors: DyffError `InvalidSpec` or `NotFound` when the build cannot be started and no retry can fix it (bad
 * request, missing permission or repository), `StepFailed` when the build ran and did not succeed. Anything else
 * (network, service unavailable) is thrown as is and may be retried.
 */
export interface ImageBuilder {
  /**
   * Start a build and wait for it to finish. `opts.onUpdate` is called after every status check (not only on
   * changes), so that a caller can heartbeat from it. When `opts.signal` aborts, the build is cancelled and the
   * promise rejects with the abort reason.
   */
  build(
    req: ImageBuildRequest,
    opts?: { signal?: AbortSignal; onUpdate?: (s: ImageBuildStatus) => void },
  ): Promise<ImageBuildResult>;
  /** Cancel a build. Idempotent: cancelling a build that has already finished is not an error. */
  cancel(buildId: string): Promise<void>;
}

/** What to build: one inference service's image from its source tarball. */
export interface ImageBuildRequest {
  /** The InferenceService entity id; it names the image (`inferenceservice-<serviceId>`). */
  serviceId: string;
  /** gs:// URI of a source tarball (inferenceservices/<id>/source.tar.gz) */
  source: { bucket: string; object: string };
  /** Path of the Dockerfile inside the source tarball. @default 'Dockerfile' */
  dockerfile?: string;
  /** Extra labels for the build, for finding it in the build service's console (`key`/`value` pairs). */
  tags?: Record<string, string>;
}

/** A finished, successful build. */
export interface ImageBuildResult {
  /** The build service's id for the build. */
  buildId: string;
  /** The pushed image pinned by digest: `<registry>/<repository>/<name>@sha256:<hex>`. */
  imageRef: string;
  /** Where the build's logs can be read, when the build service gives one. */
  logUrl?: string;
}

/** A build's status as last observed. */
export interface ImageBuildStatus {
  /** The build service's id for the build. */
  buildId: string;
  /** The build service's own status name (for Cloud Build: QUEUED, WORKING, SUCCESS, FAILURE, …). */
  status: string;
  /** Where the build's logs can be read, when the build service gives one. */
  logUrl?: string;
}
