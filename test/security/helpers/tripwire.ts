import { isIP, Socket } from 'node:net';
import { blockedRange } from '../../../src/domain/egress.js';

/**
 * A safety net for the attacks on the egress guard in this process: a socket asked to connect to an IP literal
 * that is not loopback fails at once, before anything is sent, and is recorded. If the guard ever regressed, the
 * tests would fail here instead of sending a packet anywhere but loopback.
 */
export const tripped: string[] = [];

const original = Socket.prototype.connect;
type ConnectArgs = Parameters<typeof original>;

export function installTripwire(): void {
  Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
    const first = args[0] as { host?: string; path?: string } | number | string;
    const host =
      typeof first === 'object' && first !== null
        ? first.path === undefined
          ? (first.host ?? 'localhost')
          : undefined
        : typeof first === 'number'
          ? typeof args[1] === 'string'
            ? args[1]
            : 'localhost'
          : undefined;
    if (host !== undefined && isIP(host) && !blockedRange(host)?.includes('loopback')) {
      tripped.push(host);
      throw new Error(`tripwire: a connection to ${host} was attempted`);
    }
    return original.apply(this, args as ConnectArgs);
  } as typeof original;
}
