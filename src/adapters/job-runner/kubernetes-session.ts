import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  Watch,
  type V1Deployment,
  type V1NetworkPolicy,
  type V1Service,
  type V1Toleration,
} from '@kubernetes/client-node';
import type { SessionRunner, SessionSpec, SessionStatus } from '../../ports/session-runner.js';
import { GKE_ACCELERATOR, GKE_SPOT, GPU_RESOURCE, LABEL_ENTITY, LABEL_STAGE } from './kubernetes.js';

/**
 * Inference sessions on Kubernetes: a Deployment running `dyffctl <description.command…>` from the one image, behind
 * a ClusterIP Service, with a readiness probe, replicas, GPUs and spot capacity. Readiness is learned from a watch on
 * the Deployment. Remote services (no command) need no objects: the session is the endpoint itself.
 */
export const LABEL_SESSION = 'dyff.io/session';
export const LABEL_COMPONENT = 'dyff.io/component';

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
}

/** A session's Service, as `serviceUrl` sees it. */
export interface SessionServiceRef {
  name: string;
  namespace: string;
  port: number;
}

/** The port the session's Service exposes (it forwards to the container's `http` port). */
export const SESSION_SERVICE_PORT = 80;

/** In-cluster DNS for a Service (port 80 is HTTP's default, so it is left out). */
export function clusterServiceUrl({ name, namespace, port }: SessionServiceRef): string {
  return `http://${name}.${namespace}.svc.cluster.local${port === 80 ? '' : `:${port}`}`;
}

type WaitOpts = Parameters<SessionRunner['waitReady']>[1];

export class KubernetesSessionRunner implements SessionRunner {
  readonly kc: KubeConfig;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly net: NetworkingV1Api;
  private readonly remote = new Map<string, string>();
  private readonly aborts = new Set<AbortController>();

  constructor(private readonly opts: KubernetesSessionRunnerOptions) {
    this.kc = opts.kubeConfig instanceof KubeConfig ? opts.kubeConfig : loadKubeConfig(opts.kubeConfig);
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
      await this.apps.createNamespacedDeployment({ namespace: this.namespace, body: this.deployment(spec) });
    } catch (err) {
      if (!isCode(err, 409)) throw err;
    }
    try {
      await this.core.createNamespacedService({ namespace: this.namespace, body: service(spec) });
    } catch (err) {
      if (!isCode(err, 409)) throw err;
    }
    return (
      (await this.status(spec.name)) ?? { name: spec.name, phase: 'starting', endpoint: this.url(spec.name) }
    );
  }

  async status(name: string): Promise<SessionStatus | undefined> {
    if (this.remote.has(name)) return { name, phase: 'ready', endpoint: this.remote.get(name) };
    const d = await this.readDeployment(name);
    return d && this.toStatus(name, d);
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
        const settle = (r: SessionStatus | Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          watch?.abort();
          if (r instanceof Error) reject(r);
          else resolve(r);
        };
        const onAbort = () => settle(new Error(`waitReady(${name}) aborted`));
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        abort.signal.addEventListener('abort', onAbort, { once: true });
        const check = (d: V1Deployment | undefined) => {
          const s: SessionStatus = d
            ? this.toStatus(name, d)
            : { name, phase: 'failed', reason: 'deleted: the deployment no longer exists' };
          const key = JSON.stringify(s);
          if (key !== last) opts.onUpdate?.(s);
          last = key;
          if (s.phase === 'ready') settle(s);
          else if (s.phase === 'failed')
            settle(new Error(`session ${name} failed: ${s.reason ?? 'unknown'}`));
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

  /** Delete the Deployment (its ReplicaSets and pods follow), the Service and any audit allowance; idempotent. */
  async stop(name: string): Promise<void> {
    this.remote.delete(name);
    const namespace = this.namespace;
    await Promise.all([
      this.apps
        .deleteNamespacedDeployment({ name, namespace, body: { propagationPolicy: 'Foreground' } })
        .catch(ignore404),
      this.core.deleteNamespacedService({ name, namespace }).catch(ignore404),
      this.net.deleteNamespacedNetworkPolicy({ name: `${name}-audit`, namespace }).catch(ignore404),
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
    try {
      await this.net.createNamespacedNetworkPolicy({
        namespace: this.namespace,
        body: auditPolicy(sessionName, auditEntityId),
      });
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

  private deployment(spec: SessionSpec): V1Deployment {
    const labels = sessionLabels(spec);
    const port = this.opts.port ?? 8000;
    const d = spec.description;
    const env = { ...this.opts.env, ...d.env, PORT: String(port) };
    const nodeSelector: Record<string, string> = {};
    const tolerations: V1Toleration[] = [];
    const limits: Record<string, string> = {};
    if (spec.accelerator && spec.accelerator.count > 0) {
      limits[GPU_RESOURCE] = String(spec.accelerator.count);
      if (spec.accelerator.type) nodeSelector[GKE_ACCELERATOR] = spec.accelerator.type;
      tolerations.push({ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' });
    }
    if (spec.spot) {
      nodeSelector[GKE_SPOT] = 'true';
      tolerations.push({ key: GKE_SPOT, operator: 'Equal', value: 'true', effect: 'NoSchedule' });
    }
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: spec.name, labels },
      spec: {
        replicas: spec.replicas ?? 1,
        progressDeadlineSeconds: this.opts.progressDeadlineSeconds ?? 1800,
        selector: { matchLabels: { [LABEL_SESSION]: spec.name } },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              runAsGroup: 1000,
              fsGroup: 1000,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'server',
                image: this.opts.image ?? 'dyff-temporal:latest',
                args: d.command,
                env: Object.entries(env).map(([name, value]) => ({ name, value })),
                ports: [{ name: 'http', containerPort: port }],
                readinessProbe: {
                  httpGet: { path: d.readinessPath ?? '/ready', port: 'http' },
                  periodSeconds: 5,
                },
                resources: Object.keys(limits).length ? { limits } : undefined,
                securityContext: {
                  runAsNonRoot: true,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: {} }],
            nodeSelector: Object.keys(nodeSelector).length ? nodeSelector : undefined,
            tolerations: tolerations.length ? tolerations : undefined,
          },
        },
      },
    };
  }
}

function sessionLabels(spec: Pick<SessionSpec, 'name' | 'entityId'>): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'dyff-inference-session',
    'app.kubernetes.io/managed-by': 'dyff-temporal',
    [LABEL_ENTITY]: spec.entityId,
    [LABEL_COMPONENT]: 'inference-session',
    [LABEL_SESSION]: spec.name,
  };
}

function service(spec: SessionSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.name, labels: sessionLabels(spec) },
    spec: {
      type: 'ClusterIP',
      selector: { [LABEL_SESSION]: spec.name },
      ports: [{ name: 'http', port: SESSION_SERVICE_PORT, targetPort: 'http' }],
    },
  };
}

function auditPolicy(sessionName: string, auditEntityId: string): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${sessionName}-audit`, labels: { [LABEL_SESSION]: sessionName } },
    spec: {
      podSelector: { matchLabels: { [LABEL_ENTITY]: auditEntityId, [LABEL_STAGE]: 'audit' } },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ podSelector: { matchLabels: { [LABEL_SESSION]: sessionName } } }],
          ports: [{ protocol: 'TCP', port: 'http' }],
        },
      ],
    },
  };
}

function isCode(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

function ignore404(err: unknown): void {
  if (!isCode(err, 404)) throw err;
}

function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
