/**
 * ImageBuilder on Google Cloud Build: one `docker build` step over the service's source tarball in GCS, the image
 * pushed to the Artifact Registry repository for models (`dyff-models`), the result pinned by digest.
 *
 * Cloud Build has no watch API, so `build` polls `getBuild` and reports every poll through `onUpdate` (the
 * caller heartbeats from it). The client is created on first use, so constructing this adapter loads nothing.
 */
import type { protos } from '@google-cloud/cloudbuild';
import { DyffError, ErrorType } from '../../domain/errors.js';
import type {
  ImageBuilder,
  ImageBuildRequest,
  ImageBuildResult,
  ImageBuildStatus,
} from '../../ports/image-builder.js';

type IBuild = protos.google.devtools.cloudbuild.v1.IBuild;

/** The part of `CloudBuildClient` this adapter calls; tests inject a fake. */
export interface CloudBuildClientLike {
  createBuild(req: protos.google.devtools.cloudbuild.v1.ICreateBuildRequest): Promise<
    [
      {
        name?: string | null;
        metadata?: protos.google.devtools.cloudbuild.v1.IBuildOperationMetadata | null;
      },
      ...unknown[],
    ]
  >;
  getBuild(req: protos.google.devtools.cloudbuild.v1.IGetBuildRequest): Promise<[IBuild, ...unknown[]]>;
  cancelBuild(req: protos.google.devtools.cloudbuild.v1.ICancelBuildRequest): Promise<[IBuild, ...unknown[]]>;
}

export interface CloudBuildImageBuilderOptions {
  projectId: string;
  /** Region of the build and of the Artifact Registry repository. @default 'us-central1' */
  location?: string;
  /** Artifact Registry (docker) repository the image is pushed to. @default 'dyff-models' */
  repository?: string;
  /** Injected for tests; default `new CloudBuildClient()` from @google-cloud/cloudbuild, created on first use. */
  client?: CloudBuildClientLike;
  /** @default 5000 */
  pollIntervalMs?: number;
  /** Cloud Build's own limit on the build. @default 3600 */
  timeoutSeconds?: number;
  /** Consecutive failed `getBuild` calls tolerated while waiting (transient errors only). @default 3 */
  maxPollErrors?: number;
}

/** Cloud Build's statuses (google.devtools.cloudbuild.v1.Build.Status), for clients that hand out numbers. */
const STATUS_NAMES: Record<number, string> = {
  0: 'STATUS_UNKNOWN',
  10: 'PENDING',
  1: 'QUEUED',
  2: 'WORKING',
  3: 'SUCCESS',
  4: 'FAILURE',
  5: 'INTERNAL_ERROR',
  6: 'TIMEOUT',
  7: 'CANCELLED',
  9: 'EXPIRED',
};
const FAILED = new Set(['FAILURE', 'INTERNAL_ERROR', 'TIMEOUT', 'CANCELLED', 'EXPIRED']);

/** gRPC status codes this adapter tells apart. */
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, FAILED_PRECONDITION: 9 } as const;

export class CloudBuildImageBuilder implements ImageBuilder {
  readonly projectId: string;
  readonly location: string;
  readonly repository: string;
  private client: CloudBuildClientLike | undefined;
  private readonly pollIntervalMs: number;
  private readonly timeoutSeconds: number;
  private readonly maxPollErrors: number;

  constructor(opts: CloudBuildImageBuilderOptions) {
    this.projectId = opts.projectId;
    this.location = opts.location ?? 'us-central1';
    this.repository = opts.repository ?? 'dyff-models';
    this.client = opts.client;
    this.pollIntervalMs = opts.pollIntervalMs ?? 5000;
    this.timeoutSeconds = opts.timeoutSeconds ?? 3600;
    this.maxPollErrors = opts.maxPollErrors ?? 3;
  }

  /** `<location>-docker.pkg.dev/<project>/<repository>/inferenceservice-<serviceId>`, without tag. */
  imageName(serviceId: string): string {
    return `${this.location}-docker.pkg.dev/${this.projectId}/${this.repository}/inferenceservice-${serviceId}`;
  }

  async build(
    req: ImageBuildRequest,
    opts: { signal?: AbortSignal; onUpdate?: (s: ImageBuildStatus) => void } = {},
  ): Promise<ImageBuildResult> {
    const { signal, onUpdate } = opts;
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(req.serviceId)) {
      throw new DyffError(
        ErrorType.InvalidSpec,
        `serviceId ${JSON.stringify(req.serviceId)} cannot name an image: use lowercase letters, digits, '.', '_', '-'`,
      );
    }
    signal?.throwIfAborted();
    const client = await this.getClient();
    const name = this.imageName(req.serviceId);
    const image = `${name}:latest`;
    const tags = [
      'dyff',
      `inferenceservice-${req.serviceId}`,
      ...Object.entries(req.tags ?? {}).map(cloudBuildTag),
    ];
    let operation;
    try {
      [operation] = await client.createBuild({
        projectId: this.projectId,
        parent: `projects/${this.projectId}/locations/${this.location}`,
        build: {
          source: { storageSource: { bucket: req.source.bucket, object: req.source.object } },
          steps: [
            {
              name: 'gcr.io/cloud-builders/docker',
              args: ['build', '-t', image, '-f', req.dockerfile ?? 'Dockerfile', '.'],
            },
          ],
          images: [image],
          tags,
          timeout: { seconds: this.timeoutSeconds },
          options: { logging: 'CLOUD_LOGGING_ONLY' },
        },
      });
    } catch (err) {
      throw this.apiError(
        err,
        `create a build of ${image} from gs://${req.source.bucket}/${req.source.object}`,
      );
    }
    const id = operation.metadata?.build?.id;
    if (!id)
      throw new Error(`Cloud Build returned operation ${operation.name ?? '(unnamed)'} without a build id`);

    let pollErrors = 0;
    for (;;) {
      if (signal?.aborted) return this.abort(id, signal);
      let build: IBuild;
      try {
        [build] = await client.getBuild({ projectId: this.projectId, id });
        pollErrors = 0;
      } catch (err) {
        const mapped = this.apiError(err, `read build ${id}`);
        if (mapped instanceof DyffError || ++pollErrors > this.maxPollErrors) throw mapped;
        await sleep(this.pollIntervalMs, signal);
        continue;
      }
      const status = statusName(build.status);
      const logUrl = build.logUrl || undefined;
      onUpdate?.({ buildId: id, status, ...(logUrl ? { logUrl } : {}) });
      if (status === 'SUCCESS')
        return { buildId: id, imageRef: pinned(id, name, build), ...(logUrl ? { logUrl } : {}) };
      if (FAILED.has(status)) {
        const detail = build.statusDetail ? `: ${build.statusDetail}` : '';
        throw new DyffError(
          ErrorType.StepFailed,
          `Cloud Build build ${id} ended ${status}${detail}${logUrl ? ` (logs: ${logUrl})` : ''}`,
          { buildId: id, status, statusDetail: build.statusDetail ?? undefined, logUrl },
        );
      }
      // QUEUED, PENDING, WORKING, STATUS_UNKNOWN: not finished yet.
      await sleep(this.pollIntervalMs, signal);
    }
  }

  async cancel(buildId: string): Promise<void> {
    const client = await this.getClient();
    try {
      await client.cancelBuild({ projectId: this.projectId, id: buildId });
    } catch (err) {
      // A build that has already finished cannot be cancelled: that is what the caller wanted anyway.
      if (grpcCode(err) === GRPC.FAILED_PRECONDITION) return;
      throw this.apiError(err, `cancel build ${buildId}`);
    }
  }

  private async abort(id: string, signal: AbortSignal): Promise<never> {
    try {
      await this.cancel(id);
    } catch (err) {
      throw new Error(`build ${id} was not cancelled after abort: ${(err as Error).message}`, { cause: err });
    }
    throw signal.reason;
  }

  private async getClient(): Promise<CloudBuildClientLike> {
    if (!this.client) {
      const { CloudBuildClient } = await import('@google-cloud/cloudbuild');
      // The real client's overloads and LROperation class are wider than the fake-able subset declared above.
      const client = new CloudBuildClient() as unknown as CloudBuildClientLike;
      this.client = client;
    }
    return this.client;
  }

  /** Errors no retry can fix become DyffErrors saying what to do; everything else is returned as is. */
  private apiError(err: unknown, what: string): unknown {
    const code = grpcCode(err);
    const message = (err as Error | undefined)?.message ?? String(err);
    const project = this.projectId;
    const details = { projectId: project, grpcCode: code };
    if (code === GRPC.PERMISSION_DENIED) {
      return new DyffError(
        ErrorType.InvalidSpec,
        `Cloud Build refused to ${what} in project ${project} (PERMISSION_DENIED: ${message}). Enable the API ` +
          `(gcloud services enable cloudbuild.googleapis.com --project ${project}), grant the caller ` +
          `roles/cloudbuild.builds.editor, and give the Cloud Build service account roles/artifactregistry.writer ` +
          `on ${this.repository} and read access to the source bucket.`,
        details,
      );
    }
    if (code === GRPC.NOT_FOUND) {
      return new DyffError(
        ErrorType.NotFound,
        `Cloud Build could not ${what} in project ${project} (NOT_FOUND: ${message}). Check the project and ` +
          `location, that the source object exists, and that the repository exists (gcloud artifacts repositories ` +
          `create ${this.repository} --repository-format=docker --location=${this.location}).`,
        details,
      );
    }
    if (code === GRPC.INVALID_ARGUMENT) {
      return new DyffError(
        ErrorType.InvalidSpec,
        `Cloud Build rejected the request to ${what} (INVALID_ARGUMENT: ${message}). Check the source ` +
          `bucket/object, the Dockerfile path and the location ${this.location}.`,
        details,
      );
    }
    return err;
  }
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function statusName(status: IBuild['status']): string {
  if (typeof status === 'number') return STATUS_NAMES[status] ?? `STATUS_${status}`;
  return status ?? 'STATUS_UNKNOWN';
}

/** The pushed image by digest: the entry of `results.images` for our image, else the first one. */
function pinned(id: string, name: string, build: IBuild): string {
  const images = build.results?.images ?? [];
  const ours = images.find((i) => i.name === `${name}:latest` || i.name === name) ?? images[0];
  if (!ours?.digest) {
    throw new DyffError(
      ErrorType.StepFailed,
      `Cloud Build build ${id} succeeded but reported no image digest for ${name}: the image was not pushed`,
      { buildId: id },
    );
  }
  return `${name}@${ours.digest}`;
}

/** Cloud Build tags match ^[\w][\w.-]{0,127}$. */
function cloudBuildTag([key, value]: [string, string]): string {
  return `${key}_${value}`
    .replace(/[^\w.-]/g, '-')
    .replace(/^[^\w]/, '_')
    .slice(0, 128);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
