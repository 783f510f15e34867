/**
 * Container image builds: turn an inference service's source tarball into an image in a registry.
 *
 * A build is submitted once per (service, try) and found again by its tags: an activity retried after a worker
 * crash calls `find` with the tags it submitted with, and waits on the build it finds instead of submitting a
 * second one. `wait` never stops a build on its own; only `cancel` does (a cancel the workflow requested).
 *
 * Errors: DyffError `InvalidSpec` or `NotFound` when the build cannot be started and no retry can fix it (bad
 * request, missing permission or repository), `StepFailed` when the build ran and did not succeed. Anything else
 * (network, service unavailable) is thrown as is and may be retried.
 */
export interface ImageBuilder {
  /** Start a build; resolves with its id and first status, without waiting for it. */
  submit(req: ImageBuildRequest): Promise<ImageBuildStatus>;
  /**
   * The newest build carrying every one of `tags` (as given to `submit`), or undefined when there is none.
   */
  find(tags: Record<string, string>): Promise<ImageBuildStatus | undefined>;
  /**
   * Wait for a submitted build to finish. `opts.onUpdate` is called after every status check (not only on
   * changes), so that a caller can heartbeat from it. When `opts.signal` aborts, the promise rejects with the
   * abort reason and the build keeps running (call `cancel` to stop it).
   */
  wait(
    buildId: string,
    serviceId: string,
    opts?: { signal?: AbortSignal; onUpdate?: (s: ImageBuildStatus) => void },
  ): Promise<ImageBuildResult>;
  /**
   * Submit and wait. When `opts.signal` aborts, the build is cancelled and the promise rejects with the abort
   * reason.
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
  /** `--build-arg NAME=value` for the Dockerfile's `ARG`s. */
  buildArgs?: Record<string, string>;
  /**
   * Labels of the build (`key`/`value` pairs): shown in the build service's console, and what `find` matches on
   * (the build activity sets `dyff-entity` and `dyff-try`).
   */
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

/** The image builder chosen by config, or why there is none (`builder: none`): said to a spec with `build`. */
export type ImageBuilderChoice = ImageBuilder | { unavailable: string };
