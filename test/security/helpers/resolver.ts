import type { LookupAddress } from 'node:dns';
import type { Resolver } from '../../../src/steps/net/egress-guard.js';

/**
 * A resolver stub: it answers the given addresses for every name, without asking any DNS server, and records the
 * names it was asked. The addresses are listed loopback first where there is one, so that even a broken guard
 * would connect to loopback and never beyond.
 */
export function stubResolver(addresses: string[]): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const answers: LookupAddress[] = addresses.map((address) => ({
    address,
    family: address.includes(':') ? 6 : 4,
  }));
  const resolver: Resolver = (hostname, _options, callback) => {
    asked.push(hostname);
    queueMicrotask(() => callback(null, answers));
  };
  return Object.assign(resolver, { asked });
}
