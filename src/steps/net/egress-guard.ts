import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import type { PrivateNetworkAllowance } from '../../domain/egress.js';
import { egressRefusal } from '../../domain/egress.js';
import { invalidInput } from '../errors.js';

/** A resolver with `dns.lookup`'s shape, always asked for every address. Tests stub it to answer what they like. */
export type Resolver = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** Which private addresses a step may reach, and how it resolves names (the system resolver by default). */
export interface EgressPolicy {
  allow: PrivateNetworkAllowance;
  resolver?: Resolver;
}

const EGRESS_REFUSED = 'EDYFF_EGRESS_REFUSED';

/** The error a refused connection fails with: exit 2 (a retry cannot help), naming the address and the setting. */
export function egressRefused(host: string, why: string) {
  return invalidInput(`refusing to connect to ${host}: ${why}`, undefined, { code: EGRESS_REFUSED });
}

export const isEgressRefused = (err: unknown): boolean =>
  typeof err === 'object' &&
  err !== null &&
  (err as { details?: { code?: string } }).details?.code === EGRESS_REFUSED;

/** Refuses a URL whose host is an IP literal outside the policy: such a host is never looked up. */
export function checkLiteralHost(url: URL, policy: EgressPolicy): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!isIP(host)) return;
  const why = egressRefusal(host, policy.allow);
  if (why) throw egressRefused(url.host, why);
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http(s) requests and agents: it resolves the name and refuses the connection when any address it
 * got is outside the policy. The check applies to the addresses the socket will actually connect to, so a name that
 * resolves differently each time (DNS rebinding) gains nothing.
 */
export function guardedLookup(policy: EgressPolicy) {
  const resolve: Resolver = policy.resolver ?? ((host, opts, cb) => dnsLookup(host, opts, cb));
  return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const why = egressRefusal(a.address, policy.allow);
        if (why) return callback(egressRefused(hostname, why) as unknown as NodeJS.ErrnoException, []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * Checks a URL a user named before anything is built on it: its IP literal, or the addresses its name resolves to
 * now. Where it is used later, the guarded lookup checks again (a name may resolve differently by then). A name
 * that does not resolve here is left to that later check.
 */
export async function checkUrlNow(url: URL, policy: EgressPolicy): Promise<void> {
  checkLiteralHost(url, policy);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return;
  const lookup = guardedLookup(policy);
  await new Promise<void>((resolve, reject) =>
    lookup(host, { all: true }, (err) => (err && isEgressRefused(err) ? reject(err) : resolve())),
  );
}
