/**
 * The real `CloudBuildClient`, created on first use (the SDK is loaded only by a worker that builds). With an
 * `apiEndpoint` it speaks HTTP/JSON (the REST transport) to that host; a plain `http` endpoint is a local server
 * that takes no credentials, so the client sends none.
 */
import type { protos } from '@google-cloud/cloudbuild';

type V1 = typeof protos.google.devtools.cloudbuild.v1;
type IBuild = protos.google.devtools.cloudbuild.v1.IBuild;

/** The part of `CloudBuildClient` the adapter calls; tests may inject a fake. */
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
  listBuilds(
    req: protos.google.devtools.cloudbuild.v1.IListBuildsRequest,
    opts?: { autoPaginate?: boolean },
  ): Promise<[IBuild[], ...unknown[]]>;
}
export type { V1 };

/** An auth client that adds no header: what gax's REST transport calls to send each request. */
const noCredentials = {
  getRequestHeaders: () => Promise.resolve(new Headers()),
  fetch: (url: string | URL, init?: RequestInit) => fetch(url, init),
};

export async function createCloudBuildClient(apiEndpoint?: string): Promise<CloudBuildClientLike> {
  const { CloudBuildClient } = await import('@google-cloud/cloudbuild');
  if (!apiEndpoint) {
    // The real client's overloads and LROperation class are wider than the subset declared above.
    return new CloudBuildClient() as unknown as CloudBuildClientLike;
  }
  const url = new URL(apiEndpoint);
  const local = url.protocol === 'http:';
  const port = url.port ? Number(url.port) : local ? 80 : 443;
  return new CloudBuildClient({
    apiEndpoint: url.hostname,
    port,
    protocol: local ? 'http' : 'https',
    fallback: true,
    ...(local ? { authClient: noCredentials } : {}),
  } as ConstructorParameters<typeof CloudBuildClient>[0]) as unknown as CloudBuildClientLike;
}
