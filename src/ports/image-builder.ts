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
  wait(buildId: string, serviceId: string, opts?: WaitOptions): Promise<ImageBuildResult>;
  /**
   * Submit and wait. When `opts.signal` aborts, the build is cancelled and the promise rejects with the abort
   * reason.
   */
  build(req: ImageBuildRequest, opts?: WaitOptions): Promise<ImageBuildResult>;
  /** Cancel a build. Idempotent: cancelling a build that has already finished is not an error. */
  cancel(buildId: string): Promise<void>;
  /**
   * A Dockerfile for a build context that has none (the model's files alone): what serves them with the standalone
   * runner. Absent when the builder has no image to start from; then the context must carry its own.
   */
  generatedDockerfile?(): string;
}

/** How `wait` reports. */
export interface WaitOptions {
  signal?: AbortSignal;
  onUpdate?: (s: ImageBuildStatus) => void;
  /** The build's output as it comes (from its start, also for a build adopted in progress), when the builder streams it. */
  onLog?: (text: string) => void;
}

/** Where a build reads its context from: the tarball in the object store, whatever the store's backend. */
export interface BuildSource {
  /** The tarball's URI in the object store: `gs://<bucket>/<object>` on GCS, a `file://` URI on the filesystem. */
  uri: string;
  /** Opens the tarball for reading through the object store. */
  open(): Promise<NodeJS.ReadableStream>;
}

/** What to build: one inference service's image from its source tarball. */
export interface ImageBuildRequest {
  /** The InferenceService entity id; it names the image (`inferenceservice-<serviceId>`). */
  serviceId: string;
  /** The source tarball (inferenceservices/<id>/source.tar.gz) in the worker's object store. */
  source: BuildSource;
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
  /**
   * The image pinned: by digest when pushed (`<registry>/<repository>/<name>@sha256:<hex>`), or by its local image
   * id (`sha256:<hex>`) when it stays in the engine that built it.
   */
  imageRef: string;
  /** The tag the build gave the image, when it names it locally (e.g. `dyff-inferenceservice-<id>:try-1`). */
  tag?: string;
  /** Where the build's logs can be read, when the build service gives one. */
  logUrl?: string;
}

/** A build's status as last observed. */
export interface ImageBuildStatus {
  /** The build service's id for the build. */
  buildId: string;
  /** The build service's own status name (for Cloud Build: QUEUED, WORKING, SUCCESS, FAILURE, …). */
  status: string;
  /** The build's last progress line (e.g. `Step 2/4 : RUN …`), when the builder reports one. */
  detail?: string;
  /** Where the build's logs can be read, when the build service gives one. */
  logUrl?: string;
}

/** The image builder chosen by config, or why there is none (`builder: none`): said to a spec with `build`. */
export type ImageBuilderChoice = ImageBuilder | { unavailable: string };
