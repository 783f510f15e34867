/**
 * Cloud Build's vocabulary as this adapter reads it: status names, the gRPC codes it tells apart, the tag format,
 * and the pushed image's digest in a finished build.
 */
import type { protos } from '@google-cloud/cloudbuild';
import { DyffError, ErrorType } from '../../domain/errors.js';

export type IBuild = protos.google.devtools.cloudbuild.v1.IBuild;

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
export const FAILED = new Set(['FAILURE', 'INTERNAL_ERROR', 'TIMEOUT', 'CANCELLED', 'EXPIRED']);

/** gRPC status codes this adapter tells apart. */
export const GRPC = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
} as const;

export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function statusName(status: IBuild['status']): string {
  if (typeof status === 'number') return STATUS_NAMES[status] ?? `STATUS_${status}`;
  return status ?? 'STATUS_UNKNOWN';
}

/** The pushed image by digest: the entry of `results.images` for our image, else the first one. */
export function pinned(id: string, name: string, build: IBuild): string {
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

/** Cloud Build tags match ^[\w][\w.-]{0,127}$: a `key`/`value` pair becomes `key_value`. */
export function cloudBuildTag([key, value]: [string, string]): string {
  return `${key}_${value}`
    .replace(/[^\w.-]/g, '-')
    .replace(/^[^\w]/, '_')
    .slice(0, 128);
}

/** listBuilds' filter for builds carrying every tag. */
export function tagFilter(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map((t) => `tags="${cloudBuildTag(t)}"`)
    .join(' AND ');
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
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
