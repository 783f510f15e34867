/**
 * ImageBuilder on Google Cloud Build: one `docker build` step over the service's source tarball in GCS, the image
 * pushed to the Artifact Registry repository for models (`dyff-models`), the result pinned by digest.
 *
 * Cloud Build has no watch API, so `wait` polls `getBuild` and reports every poll through `onUpdate` (the caller
 * heartbeats from it). Builds carry their request's tags, and `find` lists builds by them: that is how a retried
 * activity adopts its build. The client is created on first use, so constructing this adapter loads nothing.
 */
import { DyffError, ErrorType } from '../../domain/errors.js';
import type {
  ImageBuilder,
  ImageBuildRequest,
  ImageBuildResult,
  ImageBuildStatus,
  WaitOptions,
} from '../../ports/image-builder.js';
import type { IBuild } from './cloud-build-api.js';
import {
  cloudBuildTag,
  FAILED,
  grpcCode,
  GRPC,
  pinned,
  sleep,
  statusName,
  tagFilter,
} from './cloud-build-api.js';
import type { CloudBuildClientLike } from './cloud-build-client.js';
import { createCloudBuildClient } from './cloud-build-client.js';
import { cloudBuildError } from './cloud-build-errors.js';
import { checkServiceId, submitAndWait } from './build-and-wait.js';

export type { CloudBuildClientLike } from './cloud-build-client.js';

export interface CloudBuildImageBuilderOptions {
  projectId: string;
  /** Region of the build and of the Artifact Registry repository. @default 'us-central1' */
  location?: string;
  /** Artifact Registry (docker) repository the image is pushed to. @default 'dyff-models' */
  repository?: string;
  /** Another API endpoint (a local server in tests); see cloud-build-client.ts. */
  apiEndpoint?: string;
  /** Injected for tests; default the real `CloudBuildClient`, created on first use. */
  client?: CloudBuildClientLike;
  /** @default 5000 */
  pollIntervalMs?: number;
  /** Cloud Build's own limit on the build. @default 3600 */
  timeoutSeconds?: number;
  /** Consecutive failed `getBuild` calls tolerated while waiting (transient errors only). @default 3 */
  maxPollErrors?: number;
}

export class CloudBuildImageBuilder implements ImageBuilder {
  readonly projectId: string;
  readonly location: string;
  readonly repository: string;
  private client: CloudBuildClientLike | undefined;
  private readonly apiEndpoint?: string;
  private readonly pollIntervalMs: number;
  private readonly timeoutSeconds: number;
  private readonly maxPollErrors: number;

  constructor(opts: CloudBuildImageBuilderOptions) {
    this.projectId = opts.projectId;
    this.location = opts.location ?? 'us-central1';
    this.repository = opts.repository ?? 'dyff-models';
    this.client = opts.client;
    this.apiEndpoint = opts.apiEndpoint;
    this.pollIntervalMs = opts.pollIntervalMs ?? 5000;
    this.timeoutSeconds = opts.timeoutSeconds ?? 3600;
    this.maxPollErrors = opts.maxPollErrors ?? 3;
  }

  /** `<location>-docker.pkg.dev/<project>/<repository>/inferenceservice-<serviceId>`, without tag. */
  imageName(serviceId: string): string {
    return `${this.location}-docker.pkg.dev/${this.projectId}/${this.repository}/inferenceservice-${serviceId}`;
  }

  build(req: ImageBuildRequest, opts: WaitOptions = {}): Promise<ImageBuildResult> {
    return submitAndWait(this, req, opts);
  }

  async submit(req: ImageBuildRequest): Promise<ImageBuildStatus> {
    checkServiceId(req.serviceId);
    const source = gcsObject(req.source.uri);
    const client = await this.getClient();
    const image = `${this.imageName(req.serviceId)}:latest`;
    const tags = [
      'dyff',
      `inferenceservice-${req.serviceId}`,
      ...Object.entries(req.tags ?? {}).map(cloudBuildTag),
    ];
    const buildArgs = Object.entries(req.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
    let operation;
    try {
      [operation] = await client.createBuild({
        projectId: this.projectId,
        parent: `projects/${this.projectId}/locations/${this.location}`,
        build: {
          source: { storageSource: source },
          steps: [
            {
              name: 'gcr.io/cloud-builders/docker',
              args: ['build', '-t', image, '-f', req.dockerfile ?? 'Dockerfile', ...buildArgs, '.'],
            },
          ],
          images: [image],
          tags,
          timeout: { seconds: this.timeoutSeconds },
          options: { logging: 'CLOUD_LOGGING_ONLY' },
        },
      });
    } catch (err) {
      throw this.apiError(err, `create a build of ${image} from ${req.source.uri}`);
    }
    const build = operation.metadata?.build;
    if (!build?.id)
      throw new Error(`Cloud Build returned operation ${operation.name ?? '(unnamed)'} without a build id`);
    return toStatus(build.id, build);
  }

  async find(tags: Record<string, string>): Promise<ImageBuildStatus | undefined> {
    const client = await this.getClient();
    let builds: IBuild[];
    try {
      [builds] = await client.listBuilds(
        {
          projectId: this.projectId,
          parent: `projects/${this.projectId}/locations/${this.location}`,
          filter: tagFilter(tags),
        },
        { autoPaginate: true },
      );
    } catch (err) {
      throw this.apiError(err, `list builds tagged ${tagFilter(tags)}`);
    }
    // Newest first, as Cloud Build lists them; a build without an id is of no use to adopt.
    const found = builds.find((b) => b.id);
    return found?.id ? toStatus(found.id, found) : undefined;
  }

  async wait(buildId: string, serviceId: string, opts: WaitOptions = {}): Promise<ImageBuildResult> {
    const { signal, onUpdate } = opts;
    const client = await this.getClient();
    const name = this.imageName(serviceId);
    let pollErrors = 0;
    for (;;) {
      signal?.throwIfAborted();
      let build: IBuild;
      try {
        [build] = await client.getBuild({ projectId: this.projectId, id: buildId });
        pollErrors = 0;
      } catch (err) {
        const mapped = this.apiError(err, `read build ${buildId}`);
        if (mapped instanceof DyffError || ++pollErrors > this.maxPollErrors) throw mapped;
        await sleep(this.pollIntervalMs, signal);
        continue;
      }
      const status = toStatus(buildId, build);
      onUpdate?.(status);
      const { logUrl } = status;
      if (status.status === 'SUCCESS')
        return { buildId, imageRef: pinned(buildId, name, build), ...(logUrl ? { logUrl } : {}) };
      if (FAILED.has(status.status)) {
        const detail = build.statusDetail ? `: ${build.statusDetail}` : '';
        throw new DyffError(
          ErrorType.StepFailed,
          `Cloud Build build ${buildId} ended ${status.status}${detail}${logUrl ? ` (logs: ${logUrl})` : ''}`,
          { buildId, status: status.status, statusDetail: build.statusDetail ?? undefined, logUrl },
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

  private async getClient(): Promise<CloudBuildClientLike> {
    this.client ??= await createCloudBuildClient(this.apiEndpoint);
    return this.client;
  }

  private apiError(err: unknown, what: string): unknown {
    return cloudBuildError(err, what, this);
  }
}

/** Cloud Build reads its source from GCS: the tarball's `gs://bucket/key`. */
function gcsObject(uri: string): { bucket: string; object: string } {
  const m = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m)
    throw new DyffError(
      ErrorType.InvalidSpec,
      `Cloud Build reads the build context from a GCS bucket, and this worker's object store keeps it at ` +
        `${uri}: set objectStore: gcs in the configuration, or builder: docker`,
    );
  return { bucket: m[1]!, object: m[2]! };
}

function toStatus(buildId: string, build: IBuild): ImageBuildStatus {
  const logUrl = build.logUrl || undefined;
  return { buildId, status: statusName(build.status), ...(logUrl ? { logUrl } : {}) };
}
