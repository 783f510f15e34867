/**
 * ImageBuilder on the local Docker engine: `docker build` of the service's source tarball (read through the
 * worker's object store, whatever its backend), the image tagged from (service, try) —
 * `dyff-inferenceservice-<id>:try-<n>` — and labelled with the request's tags; the result is the local image id.
 *
 * The engine has no build ids and no way to reattach to a build: a build lives as long as the request that started
 * it. So `find` knows a build in progress only in this process, and a finished one by its image's labels (adopted
 * without building again). A build whose worker died was stopped by the engine with the request; the next attempt
 * finds no image and builds again, the finished layers coming from the engine's layer cache. `cancel` aborts the
 * request, which stops the build and removes its intermediate container.
 */
import Docker from 'dockerode';
import { DyffError, ErrorType } from '../../domain/errors.js';
import type {
  ImageBuilder,
  ImageBuildRequest,
  ImageBuildResult,
  ImageBuildStatus,
  WaitOptions,
} from '../../ports/image-builder.js';
import { isStatus, LABEL_KIND, LABEL_MANAGED, MANAGED_BY } from '../docker/hardening.js';
import { generatedDockerfile } from './docker-dockerfile.js';
import { BuildOutput, readBuildStream } from './docker-stream.js';
import { checkServiceId, submitAndWait } from './build-and-wait.js';

export interface DockerImageBuilderOptions {
  docker?: Docker;
  /** What a generated Dockerfile starts FROM: the project image, which serves a model directory. */
  baseImage: string;
  /** The network of the build's RUN steps. @default 'none' (a Dockerfile reaches nothing while it builds) */
  network?: string;
  /** How often `wait` reports a running build's status. @default 2000 */
  updateIntervalMs?: number;
}

interface RunningBuild {
  tags: Record<string, string>;
  output: BuildOutput;
  abort: AbortController;
  /** Settles when the engine ends the build; never rejects (the outcome is read from `output`). */
  ended: Promise<unknown>;
}

const BUILD_STATUS = { working: 'WORKING', success: 'SUCCESS', failure: 'FAILURE' } as const;

export class DockerImageBuilder implements ImageBuilder {
  private readonly docker: Docker;
  private readonly running = new Map<string, RunningBuild>();

  constructor(private readonly opts: DockerImageBuilderOptions) {
    this.docker = opts.docker ?? new Docker();
  }

  /** `dyff-inferenceservice-<serviceId>:try-<n>` (`:latest` without a `dyff-try` tag). */
  imageTag(serviceId: string, tags: Record<string, string> = {}): string {
    const attempt = tags['dyff-try'];
    return `dyff-inferenceservice-${serviceId}:${attempt ? `try-${attempt}` : 'latest'}`;
  }

  generatedDockerfile(): string {
    return generatedDockerfile(this.opts.baseImage);
  }

  build(req: ImageBuildRequest, opts: WaitOptions = {}): Promise<ImageBuildResult> {
    return submitAndWait(this, req, opts);
  }

  async submit(req: ImageBuildRequest): Promise<ImageBuildStatus> {
    checkServiceId(req.serviceId);
    const tags = req.tags ?? {};
    const tag = this.imageTag(req.serviceId, tags);
    const already = this.running.get(tag);
    if (already) return this.statusOf(tag, already);
    const abort = new AbortController();
    const output = new BuildOutput();
    const context = await req.source.open();
    const response = await this.docker.buildImage(context, {
      t: tag,
      dockerfile: req.dockerfile ?? 'Dockerfile',
      buildargs: req.buildArgs ?? {},
      labels: { ...tags, [LABEL_MANAGED]: MANAGED_BY, [LABEL_KIND]: 'image' },
      networkmode: this.opts.network ?? 'none',
      // Intermediate containers go also when a step fails or the build is stopped.
      rm: true,
      forcerm: true,
      abortSignal: abort.signal,
    } as Docker.ImageBuildOptions);
    const build: RunningBuild = {
      tags,
      output,
      abort,
      ended: readBuildStream(response, output).catch((err: unknown) => {
        output.error ??= abort.signal.aborted
          ? 'the build was cancelled'
          : `the engine's build response broke off: ${(err as Error).message}`;
      }),
    };
    this.running.set(tag, build);
    void build.ended.finally(() => this.running.delete(tag));
    return this.statusOf(tag, build);
  }

  async find(tags: Record<string, string>): Promise<ImageBuildStatus | undefined> {
    for (const [id, b] of this.running)
      if (Object.entries(tags).every(([k, v]) => b.tags[k] === v)) return this.statusOf(id, b);
    const images = await this.docker.listImages({
      filters: { label: Object.entries(tags).map(([k, v]) => `${k}=${v}`) },
    });
    // The engine gives the request's labels to the layers of a build too, and a stopped build leaves its last layer
    // untagged: only an image carrying the build's tag is a finished build.
    const entity = tags['dyff-entity'];
    const wanted = (t: string) => (entity ? t === this.imageTag(entity, tags) : t !== '<none>:<none>');
    const newest = images.filter((i) => i.RepoTags?.some(wanted)).sort((a, b) => b.Created - a.Created)[0];
    if (!newest) return undefined;
    return { buildId: newest.RepoTags!.find(wanted)!, status: 'SUCCESS' };
  }

  async wait(buildId: string, serviceId: string, opts: WaitOptions = {}): Promise<ImageBuildResult> {
    const { signal, onUpdate, onLog } = opts;
    signal?.throwIfAborted();
    const build = this.running.get(buildId);
    if (!build) return this.finished(buildId, serviceId);
    if (onLog) onLog(build.output.text);
    const unfollow = onLog ? build.output.follow(onLog) : () => {};
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const report = () => onUpdate?.(this.statusOf(buildId, build));
      report();
      timer = setInterval(report, this.opts.updateIntervalMs ?? 2000);
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      await Promise.race([build.ended, aborted]);
      report();
    } finally {
      clearInterval(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      unfollow();
    }
    const { error, imageId } = build.output;
    if (error || !imageId) {
      throw new DyffError(
        ErrorType.StepFailed,
        `docker build of ${buildId} failed: ${error ?? 'the engine reported no image'}`,
        { buildId, ...(build.output.step ? { step: build.output.step } : {}) },
      );
    }
    return { buildId, imageRef: imageId, tag: buildId };
  }

  async cancel(buildId: string): Promise<void> {
    const build = this.running.get(buildId);
    if (!build) return; // finished, or its requester is gone and the engine stopped it with the request
    build.abort.abort(new Error(`build ${buildId} cancelled`));
    await build.ended;
  }

  /** A build not running here: finished when its image is there, else lost (the next attempt builds again). */
  private async finished(buildId: string, serviceId: string): Promise<ImageBuildResult> {
    try {
      const image = await this.docker.getImage(buildId).inspect();
      return { buildId, imageRef: image.Id, tag: buildId };
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
      throw new Error(
        `the build ${buildId} of service ${serviceId} is not running in this worker and left no image: ` +
          'the engine stopped it when its worker went away; the next attempt builds again',
        { cause: err },
      );
    }
  }

  private statusOf(buildId: string, b: RunningBuild): ImageBuildStatus {
    const status = b.output.error
      ? BUILD_STATUS.failure
      : b.output.imageId
        ? BUILD_STATUS.success
        : BUILD_STATUS.working;
    return { buildId, status, ...(b.output.step ? { detail: b.output.step } : {}) };
  }
}
