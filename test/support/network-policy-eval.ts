/*
 * A small evaluator of Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), for tests that ask which peers a
 * set of policies admits. There is no CNI in the test control plane, so enforcement itself cannot run; this reads
 * the policies as the API documents them:
 *
 * - a pod is isolated for a direction when some policy in its namespace selects it and lists that direction in
 *   `policyTypes` (absent: Ingress, plus Egress when the policy has egress rules); a pod not isolated allows all;
 * - an isolated pod allows a connection when any rule of any policy selecting it admits it (policies add up);
 * - a rule admits when one of its peers matches (no peers: every peer) and one of its ports matches (no ports:
 *   every port); a connection needs the source's egress and the destination's ingress both;
 * - peers: `podSelector` alone (pods in the policy's namespace), `namespaceSelector` (with `podSelector`: both),
 *   `ipBlock` (the address in `cidr` and in no `except`; applied to any address, pods' included, as CNIs do);
 * - ports: protocol (default TCP), a number with optional `endPort`, or a name looked up in the destination
 *   pod's container ports.
 */

export interface Pod {
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  /** Named container ports, for policies that name a port. */
  ports?: Record<string, number>;
}

/** One end of a connection: a pod, or a bare address outside the cluster. */
export type Endpoint = Pod | { ip: string };

export interface Connection {
  from: Endpoint;
  to: Endpoint;
  port: number;
  protocol?: 'TCP' | 'UDP';
}

/** A NetworkPolicy as YAML gives it, or as @kubernetes/client-node types it (`_from`). */
export interface Policy {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    podSelector?: Selector;
    policyTypes?: string[];
    ingress?: Rule[];
    egress?: Rule[];
  };
}
interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface Peer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface PortRule {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}
interface Rule {
  from?: Peer[];
  _from?: Peer[];
  to?: Peer[];
  ports?: PortRule[];
}

export function matches(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const ok =
      e.operator === 'In'
        ? has && (e.values ?? []).includes(labels[e.key]!)
        : e.operator === 'NotIn'
          ? !has || !(e.values ?? []).includes(labels[e.key]!)
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : fail(`unknown selector operator ${e.operator}`);
    if (!ok) return false;
  }
  return true;
}

function fail(message: string): never {
  throw new Error(message);
}

function ipv4(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const a = ipv4(ip);
  const b = ipv4(base ?? '');
  if (a === undefined || b === undefined) return false; // IPv6 blocks never hold an IPv4 address
  const size = 2 ** (32 - Number(bits ?? 32));
  return Math.floor(a / size) === Math.floor(b / size);
}

function isPod(e: Endpoint): e is Pod {
  return 'labels' in e;
}

/** Namespaces carry their automatic name label; that is all the policies here select namespaces by. */
function namespaceLabels(namespace: string): Record<string, string> {
  return { 'kubernetes.io/metadata.name': namespace };
}

function peerMatches(peers: Peer[] | undefined, policyNamespace: string, e: Endpoint): boolean {
  if (!peers || peers.length === 0) return true;
  return peers.some((p) => {
    if (p.ipBlock)
      return inCidr(e.ip, p.ipBlock.cidr) && !(p.ipBlock.except ?? []).some((x) => inCidr(e.ip, x));
    if (!isPod(e)) return false;
    const namespaceOk = p.namespaceSelector
      ? matches(p.namespaceSelector, namespaceLabels(e.namespace))
      : e.namespace === policyNamespace;
    return namespaceOk && matches(p.podSelector, e.labels);
  });
}

function portMatches(ports: PortRule[] | undefined, c: Connection): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== (c.protocol ?? 'TCP')) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string') return isPod(c.to) && c.to.ports?.[p.port] === c.port;
    return p.endPort === undefined ? c.port === p.port : c.port >= p.port && c.port <= p.endPort;
  });
}

function types(p: Policy): string[] {
  return p.spec?.policyTypes ?? ['Ingress', ...(p.spec?.egress ? ['Egress'] : [])];
}

/** Whether `pod`'s side allows the connection in one direction. */
function sideAllows(policies: Policy[], pod: Pod, direction: 'Ingress' | 'Egress', c: Connection): boolean {
  // A policy without a namespace (as the session runner builds them) is created in the namespace of the pods.
  const selecting = policies.filter(
    (p) =>
      (p.metadata?.namespace ?? pod.namespace) === pod.namespace &&
      matches(p.spec?.podSelector, pod.labels) &&
      types(p).includes(direction),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) => {
    const ns = p.metadata?.namespace ?? pod.namespace;
    const rules = (direction === 'Egress' ? p.spec?.egress : p.spec?.ingress) ?? [];
    const peer = direction === 'Egress' ? c.to : c.from;
    return rules.some(
      (r) =>
        peerMatches(direction === 'Egress' ? r.to : (r.from ?? r._from), ns, peer) && portMatches(r.ports, c),
    );
  });
}

/** Whether the policies admit the connection: the source's egress and the destination's ingress. */
export function admits(policies: Policy[], c: Connection): boolean {
  const egress = !isPod(c.from) || sideAllows(policies, c.from, 'Egress', c);
  const ingress = !isPod(c.to) || sideAllows(policies, c.to, 'Ingress', c);
  return egress && ingress;
}
