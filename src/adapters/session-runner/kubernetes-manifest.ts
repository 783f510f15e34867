import type { V1Deployment, V1NetworkPolicy, V1Service, V1Toleration } from '@kubernetes/client-node';
import { deniedEnvNames } from '../../domain/env-denylist.js';
import { stepEnvironment } from '../../domain/step-environment.js';
import type { ScratchSettings } from '../../domain/step-resources.js';
import { resolveSessionScratch } from '../../domain/step-resources.js';
import type { SessionSpec } from '../../ports/session-runner.js';
import { envVars } from '../job-runner/kubernetes-env.js';
import {
  GKE_ACCELERATOR,
  GKE_SPOT,
  GPU_RESOURCE,
  LABEL_ENTITY,
  LABEL_STAGE,
  LABEL_STEP,
} from '../job-runner/kubernetes-job-manifest.js';

/** The objects of an inference session: its Deployment, its Service, and its NetworkPolicies (who may reach it). */

export const LABEL_SESSION = 'dyff.io/session';
export const LABEL_COMPONENT = 'dyff.io/component';
/** `dyff.io/component` of session pods: the sessions' NetworkPolicy selects on it. */
export const SESSION_COMPONENT = 'inference-session';

/** The port the session's Service exposes (it forwards to the container's `http` port). */
export const SESSION_SERVICE_PORT = 80;

/** The runner settings that shape a session's Deployment. */
export interface SessionTemplateOptions {
  image?: string;
  env?: Record<string, string>;
  port?: number;
  progressDeadlineSeconds?: number;
  /** `kubernetes.scratch.session` / `kubernetes.defaultScratch`: the size of the pod's `/tmp`. */
  scratch?: ScratchSettings;
}

export function sessionDeployment(spec: SessionSpec, opts: SessionTemplateOptions): V1Deployment {
  const labels = sessionLabels(spec);
  const port = opts.port ?? 8000;
  const d = spec.description;
  const denied = deniedEnvNames(d.env);
  if (denied.length) throw new Error(`service ${d.serviceId}: runner.env may not set ${denied.join(', ')}`);
  // The service's own variables first, so that none of them can replace what the platform sets.
  const platform = stepEnvironment('session', { config: opts.env ?? {}, worker: {}, placement: 'pod' });
  const env = { ...d.env, ...platform, PORT: String(port) };
  const nodeSelector: Record<string, string> = {};
  const tolerations: V1Toleration[] = [];
  const limits: Record<string, string> = {};
  if (spec.accelerator && spec.accelerator.count > 0) {
    limits[GPU_RESOURCE] = String(spec.accelerator.count);
    if (spec.accelerator.type) nodeSelector[GKE_ACCELERATOR] = spec.accelerator.type;
    tolerations.push({ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' });
  }
  // The model is copied into /tmp: requested so the pod lands on a node with the disk, limited so it cannot fill it.
  const scratch = resolveSessionScratch(opts.scratch);
  limits['ephemeral-storage'] = scratch;
  const requests: Record<string, string> = { 'ephemeral-storage': scratch };
  if (spec.resources?.cpu) requests.cpu = spec.resources.cpu;
  // Memory is requested and capped alike: a model server over its memory is killed, not squeezed.
  if (spec.resources?.memory) requests.memory = limits.memory = spec.resources.memory;
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
      progressDeadlineSeconds: opts.progressDeadlineSeconds ?? 1800,
      selector: { matchLabels: { [LABEL_SESSION]: spec.name } },
      template: {
        metadata: { labels },
        spec: {
          // The model server's own identity (the step catalogue's session entry): it reads the model it serves.
          serviceAccountName: spec.serviceAccount,
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
              // The service's own image (built, or prebuilt in its spec) with its entrypoint, else the project's.
              image: d.image ?? opts.image ?? 'dyff-temporal:latest',
              args: d.command?.length ? d.command : undefined,
              // A server that exits says why in its log: the tail becomes the termination message (serverExit).
              terminationMessagePolicy: 'FallbackToLogsOnError',
              env: envVars(env),
              ports: [{ name: 'http', containerPort: port }],
              readinessProbe: {
                httpGet: { path: d.readinessPath ?? '/ready', port: 'http' },
                periodSeconds: 5,
              },
              resources: { limits, requests },
              securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: scratch } }],
          nodeSelector: Object.keys(nodeSelector).length ? nodeSelector : undefined,
          tolerations: tolerations.length ? tolerations : undefined,
        },
      },
    },
  };
}

export function sessionLabels(spec: Pick<SessionSpec, 'name' | 'entityId'>): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'dyff-inference-session',
    'app.kubernetes.io/managed-by': 'dyff-temporal',
    [LABEL_ENTITY]: spec.entityId,
    [LABEL_COMPONENT]: SESSION_COMPONENT,
    [LABEL_SESSION]: spec.name,
  };
}

export function sessionService(spec: SessionSpec): V1Service {
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

export function auditPolicy(sessionName: string, auditEntityId: string): V1NetworkPolicy {
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

/**
 * Who may reach a session: the evaluate pods of its own evaluation (the session's entity). The static
 * `inference-session` policy (k8s/step-networkpolicies.yaml) admits no ingress; this adds exactly these pods.
 */
export function sessionIngressPolicy(spec: Pick<SessionSpec, 'name' | 'entityId'>): V1NetworkPolicy {
  return ingressTo(`${spec.name}-ingress`, spec.name, {
    [LABEL_ENTITY]: spec.entityId,
    [LABEL_STEP]: 'evaluate',
  });
}

/** The session side of `auditPolicy`: the audit's pods may connect to the session. */
export function auditIngressPolicy(sessionName: string, auditEntityId: string): V1NetworkPolicy {
  return ingressTo(`${sessionName}-audit-ingress`, sessionName, {
    [LABEL_ENTITY]: auditEntityId,
    [LABEL_STAGE]: 'audit',
  });
}

function ingressTo(name: string, sessionName: string, from: Record<string, string>): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, labels: { [LABEL_SESSION]: sessionName } },
    spec: {
      podSelector: { matchLabels: { [LABEL_SESSION]: sessionName } },
      policyTypes: ['Ingress'],
      ingress: [
        { _from: [{ podSelector: { matchLabels: from } }], ports: [{ protocol: 'TCP', port: 'http' }] },
      ],
    },
  };
}
