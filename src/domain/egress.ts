/**
 * The egress rule for fetches and service endpoints: which addresses a user-supplied URL may reach. Loopback,
 * link-local (cloud metadata servers included), private, shared, multicast and reserved ranges belong to the
 * platform, not to the public internet, and are refused unless `sources.allowPrivateNetworks` allows them (all of
 * them with `true`, or the listed CIDRs). Pure: the step side applies it to the address actually connected to.
 */

type Ip = { v: 4 | 6; n: bigint };

/** Ranges no user URL may reach by default, with the name an error message gives them. */
const BLOCKED: readonly [string, string][] = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared (carrier-grade NAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (metadata servers)'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'IPv4-compatible'],
  ['fe80::/10', 'link-local'],
  ['fc00::/7', 'unique local (private)'],
  ['ff00::/8', 'multicast'],
];

export type PrivateNetworkAllowance = boolean | readonly string[];

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

function parseV6(s: string): bigint | undefined {
  let text = s.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  // A trailing dotted IPv4 part (::ffff:1.2.3.4) is two groups written another way.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = parseV4(v4[1]!);
    if (n === undefined) return undefined;
    text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const group = (h: string) => (h === '' ? [] : h.split(':'));
  const head = group(halves[0]!);
  const back = halves.length === 2 ? group(halves[1]!) : [];
  if ([...head, ...back].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const fill = 8 - head.length - back.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...back];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function parseIp(s: string): Ip | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { v: 4, n: v4 };
  if (!s.includes(':')) return undefined;
  const v6 = parseV6(s);
  return v6 === undefined ? undefined : { v: 6, n: v6 };
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) one. */
function embeddedV4(ip: Ip): Ip | undefined {
  if (ip.v !== 6) return undefined;
  if (ip.n >> 32n === 0xffffn || ip.n >> 32n === 0x64ff9b0000000000000000n)
    return { v: 4, n: ip.n & 0xffffffffn };
  if (ip.n >> 112n === 0x2002n) return { v: 4, n: (ip.n >> 80n) & 0xffffffffn };
  return undefined;
}

function inCidr(ip: Ip, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const net = parseIp(base ?? '');
  if (!net || net.v !== ip.v) return false;
  const width = ip.v === 4 ? 32n : 128n;
  const bits = BigInt(bitsText === undefined ? Number(width) : Number(bitsText));
  const shift = width - bits;
  return ip.n >> shift === net.n >> shift;
}

/** A CIDR (or a single address) as the setting takes it; undefined when valid, else why not. */
export function cidrProblem(cidr: string): string | undefined {
  const [base, bits, extra] = cidr.split('/');
  const ip = parseIp(base ?? '');
  if (!ip || extra !== undefined) return `${JSON.stringify(cidr)} is not an IP address or CIDR`;
  if (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > (ip.v === 4 ? 32 : 128)))
    return `${JSON.stringify(cidr)} has an invalid prefix length`;
  return undefined;
}

/** Which blocked range holds `address` (as connected to), or undefined when it is public. */
export function blockedRange(address: string): string | undefined {
  const ip = parseIp(address);
  if (!ip) return 'not an IP address';
  const inner = embeddedV4(ip);
  if (inner) return blockedRange(v4Text(inner.n));
  const hit = BLOCKED.find(([cidr]) => inCidr(ip, cidr));
  return hit ? `${hit[0]} ${hit[1]}` : undefined;
}

const v4Text = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');

/** Why connecting to `address` is refused under `allow`, or undefined when it may be reached. */
export function egressRefusal(address: string, allow: PrivateNetworkAllowance): string | undefined {
  const range = blockedRange(address);
  if (range === undefined || allow === true) return undefined;
  if (Array.isArray(allow)) {
    const ip = parseIp(address)!;
    const candidates = [ip, embeddedV4(ip)].filter((x): x is Ip => x !== undefined);
    if (allow.some((cidr) => candidates.some((c) => inCidr(c, cidr)))) return undefined;
  }
  return `${address} is in ${range}, which sources may not reach unless sources.allowPrivateNetworks allows it`;
}
