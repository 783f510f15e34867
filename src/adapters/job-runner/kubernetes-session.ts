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
import { GKE_ACCELERATOR, GKE_SPOT, GPU_RESOURCE, LABEL_ENTITY, LABEL_STAGE } from './kubernetes.js';

/**
 * An inference session on Kubernetes: a Deployment of the model's serving image behind a ClusterIP Service, with a
 * readiness probe, replicas, GPUs and spot capacity. Readiness is learned from a watch on the Deployment.
 */
export const LABEL_SESSION = 'dyff.io/session';
export const LABEL_COMPONENT = 'dyff.io/component';

export interface SessionSpec {
  /** DNS label; names the Deployment and the Service. */
  name: string;
  entityId: string;
  image: string;
  args?: string[];
  env?: Record<string, string>;
  /** The port the server listens on. @default 8000 */
  port?: number;
  /** HTTP path that answers 200 once the model is loaded. @default '/ready' */
  readinessPath?: string;
  /** @default 1 */
  replicas?: number;
  serviceAccount?: string;
  resources?: { cpu?: string; memory?: string; gpu?: { count: number; type?: string }; spot?: boolean };
}

export interface SessionStatus {
  name: string;
  replicas: number;
  readyReplicas: number;
  /** In-cluster address of the Service. */
  url: string;
}

export interface KubernetesSessionRunnerOptions {
  namespace: string;
  kubeConfig?: KubeConfig | string;
  /** A Deployment that makes no progress this long counts as failed. @default 1800 */
  progressDeadlineSeconds?: number;
}

export class KubernetesSessionRunner {
  readonly kc: KubeConfig;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly net: NetworkingV1Api;

  constructor(private readonly opts: KubernetesSessionRunnerOptions) {
    this.kc = opts.kubeConfig instanceof KubeConfig ? opts.kubeConfig : loadKubeConfig(opts.kubeConfig);
    this.apps = this.kc.makeApiClient(AppsV1Api);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.net = this.kc.makeApiClient(NetworkingV1Api);
  }

  /** Create the Deployment and Service, or adopt them when they exist. */
  async start(spec: SessionSpec): Promise<{ adopted: boolean; url: string }> {
    const namespace = this.opts.namespace;
    let adopted = false;
    try {
      await this.apps.createNamespacedDeployment({ namespace, body: deployment(spec, this.opts) });
    } catch (err) {
      if (!isCode(err, 409)) throw err;
      adopted = true;
    }
    try {
      await this.core.createNamespacedService({ namespace, body: service(spec) });
    } catch (err) {
      if (!isCode(err, 409)) throw err;
    }
    return { adopted, url: this.url(spec.name) };
  }

  /** Resolves when every replica is ready; rejects when the Deployment is gone or stops progressing. */
  waitReady(name: string, opts: { signal?: AbortSignal } = {}): Promise<SessionStatus> {
    const namespace = this.opts.namespace;
    return new Promise<SessionStatus>((resolve, reject) => {
      let settled = false;
      let watch: AbortController | undefined;
      const settle = (r: SessionStatus | Error) => {
        if (settled) return;
        settled = true;
        watch?.abort();
        opts.signal?.removeEventListener('abort', onAbort);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      const onAbort = () => settle(new Error('waitReady aborted'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const check = (d: V1Deployment | undefined): boolean => {
        if (!d || d.metadata?.deletionTimestamp) return settle(new Error(`session ${name}: deployment deleted`)), true;
        const want = d.spec?.replicas ?? 1;
        const ready = d.status?.readyReplicas ?? 0;
        const stalled = d.status?.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
        if (stalled) return settle(new Error(`session ${name}: ${stalled.message ?? 'progress deadline exceeded'}`)), true;
        const current = (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
        if (current && ready >= want && want > 0) {
          settle({ name, replicas: want, readyReplicas: ready, url: this.url(name) });
          return true;
        }
        return false;
      };
      const resync = async (): Promise<void> => {
        if (settled) return;
        try {
          const d = await this.apps.readNamespacedDeployment({ name, namespace }).catch((err: unknown) => {
            if (isCode(err, 404)) return undefined;
            throw err;
          });
          if (check(d) || settled) return;
          watch = await new Watch(this.kc).watch(
            `/apis/apps/v1/namespaces/${namespace}/deployments`,
            { fieldSelector: `metadata.name=${name}`, resourceVersion: d?.metadata?.resourceVersion, timeoutSeconds: 300 },
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
        } catch (err) {
          if (!settled) setTimeout(() => void resync(), 500);
          void err;
        }
      };
      void resync();
    });
  }

  async status(name: string): Promise<SessionStatus | undefined> {
    try {
      const d = await this.apps.readNamespacedDeployment({ name, namespace: this.opts.namespace });
      return { name, replicas: d.spec?.replicas ?? 1, readyReplicas: d.status?.readyReplicas ?? 0, url: this.url(name) };
    } catch (err) {
      if (isCode(err, 404)) return undefined;
      throw err;
    }
  }

  /** Delete the Deployment (its ReplicaSets and pods follow) and the Service; idempotent. */
  async delete(name: string): Promise<void> {
    const namespace = this.opts.namespace;
    await Promise.all([
      this.apps.deleteNamespacedDeployment({ name, namespace, body: { propagationPolicy: 'Foreground' } }).catch(ignore404),
      this.core.deleteNamespacedService({ name, namespace }).catch(ignore404),
      this.net.deleteNamespacedNetworkPolicy({ name: `${name}-audit`, namespace }).catch(ignore404),
    ]);
  }

  /**
   * Let the pods of one audit reach this session and nothing else: added to the namespace's baseline audit policy
   * (k8s/audit-networkpolicy.yaml: no ingress, DNS and metadata only), since NetworkPolicies allow the union.
   */
  async allowAudit(sessionName: string, auditEntityId: string): Promise<void> {
    try {
      await this.net.createNamespacedNetworkPolicy({
        namespace: this.opts.namespace,
        body: auditPolicy(sessionName, auditEntityId),
      });
    } catch (err) {
      if (!isCode(err, 409)) throw err;
    }
  }

  private url(name: string): string {
    return `http://${name}.${this.opts.namespace}.svc.cluster.local`;
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

function deployment(spec: SessionSpec, o: KubernetesSessionRunnerOptions): V1Deployment {
  const labels = sessionLabels(spec);
  const port = spec.port ?? 8000;
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (spec.resources?.cpu) requests.cpu = spec.resources.cpu;
  if (spec.resources?.memory) requests.memory = limits.memory = spec.resources.memory;
  const gpu = spec.resources?.gpu;
  const nodeSelector: Record<string, string> = {};
  const tolerations: V1Toleration[] = [];
  if (gpu && gpu.count > 0) {
    limits[GPU_RESOURCE] = String(gpu.count);
    if (gpu.type) nodeSelector[GKE_ACCELERATOR] = gpu.type;
    tolerations.push({ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' });
  }
  if (spec.resources?.spot) {
    nodeSelector[GKE_SPOT] = 'true';
    tolerations.push({ key: GKE_SPOT, operator: 'Equal', value: 'true', effect: 'NoSchedule' });
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.name, labels },
    spec: {
      replicas: spec.replicas ?? 1,
      progressDeadlineSeconds: o.progressDeadlineSeconds ?? 1800,
      selector: { matchLabels: { [LABEL_SESSION]: spec.name } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: spec.serviceAccount,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'server',
              image: spec.image,
              args: spec.args,
              env: Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
              ports: [{ name: 'http', containerPort: port }],
              readinessProbe: {
                httpGet: { path: spec.readinessPath ?? '/ready', port: 'http' },
                periodSeconds: 5,
                failureThreshold: 3,
              },
              resources: Object.keys(requests).length || Object.keys(limits).length ? { requests, limits } : undefined,
              securityContext: {
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

function service(spec: SessionSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.name, labels: sessionLabels(spec) },
    spec: {
      type: 'ClusterIP',
      selector: { [LABEL_SESSION]: spec.name },
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
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
