import {
  AppsV1Api,
  CoreV1Api,
  NetworkingV1Api,
  Watch,
  type KubeConfig,
  type V1Deployment,
  type V1NetworkPolicy,
} from '@kubernetes/client-node';
import type { SessionRunner, SessionSpec, SessionStatus } from '../../ports/session-runner.js';
import { isCode, toKubeConfig } from '../job-runner/kube-client.js';
import { LABEL_ENTITY } from '../job-runner/kubernetes-job-manifest.js';
import {
  LABEL_COMPONENT,
  LABEL_SESSION,
  auditIngressPolicy,
  auditPolicy,
  sessionIngressPolicy,
  SESSION_SERVICE_PORT,
  sessionDeployment,
  sessionService,
} from './kubernetes-manifest.js';
import { serverExit } from './kubernetes-server-exit.js';
import type { ScratchSettings } from '../../domain/step-resources.js';
import { parseScratchSettings } from '../../domain/step-resources.js';

export { LABEL_COMPONENT, LABEL_SESSION, SESSION_SERVICE_PORT } from './kubernetes-manifest.js';

/**
 * Inference sessions on Kubernetes: a Deployment running `dyffctl <description.command…>` from the project image (or
 * the service's own image, built or prebuilt, with the runner's args), behind
 * a ClusterIP Service, with a readiness probe, replicas, GPUs and spot capacity. Readiness is learned from a watch on
 * the Deployment. Remote services (no command) need no objects: the session is the endpoint itself.
 */

export interface KubernetesSessionRunnerOptions {
  namespace: string;
  /** The image holding `dyffctl`; its entrypoint is `node bin/dyffctl.mjs`. @default 'dyff-temporal:latest' */
  image?: string;
  kubeConfig?: KubeConfig | string;
  /** Environment for every session; the description's env wins. */
  env?: Record<string, string>;
  /** The port the server listens on (passed as PORT). @default 8000 */
  port?: number;
  /** A Deployment that makes no progress this long fails. @default 1800 */
  progressDeadlineSeconds?: number;
  /**
   * The endpoint a session reports: how the evaluation (and the worker) reach the session's Service. Called with
   * the Service's name, namespace and port each time a status is made.
   * @default the in-cluster DNS name, `http://<name>.<namespace>.svc.cluster.local`
   */
  serviceUrl?: (service: SessionServiceRef) => string;
  /** The size of each pod's `/tmp` (`kubernetes.scratch.session`, `kubernetes.defaultScratch`). */
  scratch?: ScratchSettings;
}

/** A session's Service, as `serviceUrl` sees it. */
export interface SessionServiceRef {
  name: string;
  namespace: string;
  port: number;
}

/** In-cluster DNS for a Service (port 80 is HTTP's default, so it is left out). */
export function clusterServiceUrl({ name, namespace, port }: SessionServiceRef): string {
  return `http://${name}.${namespace}.svc.cluster.local${port === 80 ? '' : `:${port}`}`;
}

type WaitOpts = Parameters<SessionRunner['waitReady']>[1];
/** How often waitReady looks for a crashed server pod. */
const POD_CHECK_MS = 1000;

export class KubernetesSessionRunner implements SessionRunner {
  readonly kc: KubeConfig;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly net: NetworkingV1Api;
  private readonly remote = new Map<string, string>();
  private readonly aborts = new Set<AbortController>();

  constructor(private readonly opts: KubernetesSessionRunnerOptions) {
    parseScratchSettings(opts.scratch); // a bad quantity fails here, naming the key, not at the first session
    this.kc = toKubeConfig(opts.kubeConfig);
    this.apps = this.kc.makeApiClient(AppsV1Api);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.net = this.kc.makeApiClient(NetworkingV1Api);
  }

  private get namespace(): string {
    return this.opts.namespace;
  }

  /** Create the Deployment and Service, or adopt them when they exist. */
  async start(spec: SessionSpec): Promise<SessionStatus> {
    if (!spec.description.command) {
      this.remote.set(spec.name, '');
      return { name: spec.name, phase: 'ready', endpoint: '' };
    }
    try {
      await this.apps.createNamespacedDeployment({
        namespace: this.namespace,
        body: sessionDeployment(spec, this.opts),
      });
    } catch (err) {
      if (!isCode(err, 409)) throw err;
    }
    try {
      await this.core.createNamespacedService({ namespace: this.namespace, body: sessionService(spec) });
    } catch (err) {
      if (!isCode(err, 409)) throw err;
    }
    // The namespace's inference-session policy admits no ingress; this admits the evaluation's own pods.
    await this.createPolicy(sessionIngressPolicy(spec));
    return (
      (await this.status(spec.name)) ?? { name: spec.name, phase: 'starting', endpoint: this.url(spec.name) }
    );
  }

  async status(name: string): Promise<SessionStatus | undefined> {
    if (this.remote.has(name)) return { name, phase: 'ready', endpoint: this.remote.get(name) };
    const d = await this.readDeployment(name);
    const s = d && this.toStatus(name, d);
    return s?.phase === 'starting' ? ((await this.crashed(name)) ?? s) : s;
  }

  /** Resolves when every replica is ready; rejects when the Deployment is deleted, stalls, or `timeoutMs` passes. */
  async waitReady(name: string, opts: WaitOpts = {}): Promise<SessionStatus> {
    if (this.remote.has(name)) return (await this.status(name))!;
    const abort = new AbortController();
    this.aborts.add(abort);
    const timeoutMs = opts.timeoutMs ?? 600_000;
    try {
      return await new Promise<SessionStatus>((resolve, reject) => {
        let settled = false;
        let watch: AbortController | undefined;
        let last = '';
        const timer = setTimeout(
          () => settle(new Error(`session ${name} not ready after ${timeoutMs} ms`)),
          timeoutMs,
        );
        // A crashing pod changes no field of the Deployment, so the watch above cannot see it: look at the pods.
        const pods = setInterval(() => {
          this.crashed(name).then(
            (s) => s && !settled && check(s),
            () => {},
          );
        }, POD_CHECK_MS);
        const settle = (r: SessionStatus | Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          clearInterval(pods);
          watch?.abort();
          if (r instanceof Error) reject(r);
          else resolve(r);
        };
        const onAbort = () => settle(new Error(`waitReady(${name}) aborted`));
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        abort.signal.addEventListener('abort', onAbort, { once: true });
        const check = (d: V1Deployment | SessionStatus | undefined) => {
          const s: SessionStatus =
            d === undefined
              ? { name, phase: 'failed', reason: 'deleted: the deployment no longer exists' }
              : 'phase' in d
                ? d
                : this.toStatus(name, d);
          const key = JSON.stringify(s);
          if (key !== last) opts.onUpdate?.(s);
          last = key;
          if (s.phase === 'ready') settle(s);
          else if (s.phase === 'failed') {
            const tail = s.logTail?.length ? `\n${s.logTail.join('\n')}` : '';
            settle(new Error(`session ${name} failed: ${s.reason ?? 'unknown'}${tail}`));
          }
        };
        const resync = async (): Promise<void> => {
          if (settled) return;
          try {
            const d = await this.readDeployment(name);
            check(d);
            if (settled) return;
            watch = await new Watch(this.kc).watch(
              `/apis/apps/v1/namespaces/${this.namespace}/deployments`,
              {
                fieldSelector: `metadata.name=${name}`,
                resourceVersion: d?.metadata?.resourceVersion,
                timeoutSeconds: 300,
              },
              (type: string, obj: V1Deployment) => {
                if (type === 'DELETED') check(undefined);
                else if (type === 'ERROR') void resync();
                else if (type !== 'BOOKMARK') check(obj);
              },
              (err: unknown) => {
                if (!settled) setTimeout(() => void resync(), err ? 500 : 0);
              },
            );
            if (settled) watch.abort();
          } catch {
            if (!settled) setTimeout(() => void resync(), 500);
          }
        };
        void resync();
      });
    } finally {
      this.aborts.delete(abort);
    }
  }

  async list(entityId: string): Promise<SessionStatus[]> {
    const found = await this.apps.listNamespacedDeployment({
      namespace: this.namespace,
      labelSelector: `${LABEL_ENTITY}=${entityId},${LABEL_COMPONENT}=inference-session`,
    });
    return found.items.map((d) => this.toStatus(d.metadata?.name ?? '', d));
  }

  /** Delete the Deployment (its ReplicaSets and pods follow), the Service and any audit allowance; idempotent. */
  async stop(name: string): Promise<void> {
    this.remote.delete(name);
    const namespace = this.namespace;
    await Promise.all([
      this.apps
        .deleteNamespacedDeployment({ name, namespace, body: { propagationPolicy: 'Foreground' } })
        .catch(ignore404),
      this.core.deleteNamespacedService({ name, namespace }).catch(ignore404),
      ...[`${name}-audit`, `${name}-audit-ingress`, `${name}-ingress`].map((policy) =>
        this.net.deleteNamespacedNetworkPolicy({ name: policy, namespace }).catch(ignore404),
      ),
    ]);
  }

  async close(): Promise<void> {
    for (const a of this.aborts) a.abort();
  }

  /**
   * Let the pods of one audit reach this session and nothing else. It adds to the namespace's baseline audit policy
   * (k8s/audit-networkpolicy.yaml: no ingress; DNS and metadata only), since NetworkPolicies allow the union.
   */
  async allowAudit(sessionName: string, auditEntityId: string): Promise<void> {
    await this.createPolicy(auditPolicy(sessionName, auditEntityId));
    // The session's side: its policy (k8s/step-networkpolicies.yaml) admits no ingress but what is added.
    await this.createPolicy(auditIngressPolicy(sessionName, auditEntityId));
  }

  private async createPolicy(body: V1NetworkPolicy): Promise<void> {
    try {
      await this.net.createNamespacedNetworkPolicy({ namespace: this.namespace, body });
    } catch (err) {
      if (!isCode(err, 409)) throw err;
    }
  }

  private async readDeployment(name: string): Promise<V1Deployment | undefined> {
    try {
      return await this.apps.readNamespacedDeployment({ name, namespace: this.namespace });
    } catch (err) {
      if (isCode(err, 404)) return undefined;
      throw err;
    }
  }

  /** The session as failed when one of its servers exited by its own verdict (see serverExit). */
  private async crashed(name: string): Promise<SessionStatus | undefined> {
    const selector = `${LABEL_SESSION}=${name}`;
    const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector });
    const exit = serverExit(pods.items);
    return exit && { name, phase: 'failed', endpoint: this.url(name), ...exit };
  }

  private toStatus(name: string, d: V1Deployment): SessionStatus {
    const endpoint = this.url(name);
    if (d.metadata?.deletionTimestamp)
      return { name, phase: 'failed', endpoint, reason: 'deleted: the session is being deleted' };
    const stalled = d.status?.conditions?.find(
      (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
    );
    if (stalled)
      return { name, phase: 'failed', endpoint, reason: stalled.message ?? 'progress deadline exceeded' };
    const want = d.spec?.replicas ?? 1;
    const current = (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1);
    const ready =
      current &&
      want > 0 &&
      (d.status?.readyReplicas ?? 0) >= want &&
      (d.status?.updatedReplicas ?? 0) >= want;
    return { name, phase: ready ? 'ready' : 'starting', endpoint };
  }

  private url(name: string): string {
    const ref = { name, namespace: this.namespace, port: SESSION_SERVICE_PORT };
    return (this.opts.serviceUrl ?? clusterServiceUrl)(ref);
  }
}

function ignore404(err: unknown): void {
  if (!isCode(err, 404)) throw err;
}
