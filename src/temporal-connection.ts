import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { DyffError, ErrorType } from './domain/errors.js';
import type { TemporalConfig } from './temporal-config.js';

/** What `Connection.connect` (client) and `NativeConnection.connect` (worker) both take. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/**
 * How to reach the configured Temporal: plain for the dev server; TLS with a private CA, mTLS with a client
 * certificate, or an API key (Temporal Cloud) when configured. Files are read now, so a missing one fails here
 * with the key that named it, not later as an opaque handshake error.
 */
export function temporalConnectionOptions(t: TemporalConfig): TemporalConnectionOptions {
  const apiKey =
    t.apiKey ?? (t.apiKeyFile ? read('apiKeyFile', t.apiKeyFile).toString('utf8').trim() : undefined);
  const { enabled, caFile, certFile, keyFile, serverName } = t.tls;
  const on = enabled ?? Boolean(caFile || certFile || serverName || apiKey);
  const options: TemporalConnectionOptions = { address: t.address, ...(apiKey ? { apiKey } : {}) };
  if (!on) return options;
  options.tls = {
    ...(serverName ? { serverNameOverride: serverName } : {}),
    ...(caFile ? { serverRootCACertificate: read('tls.caFile', caFile) } : {}),
    ...(certFile && keyFile
      ? { clientCertPair: { crt: read('tls.certFile', certFile), key: read('tls.keyFile', keyFile) } }
      : {}),
  };
  return options;
}

function read(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new DyffError(
      ErrorType.InvalidSpec,
      `temporal.${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** The address and how it is secured, for messages: `temporal.example:7233 (mTLS)`. */
export function describeConnection(o: TemporalConnectionOptions): string {
  const how = [o.tls ? (o.tls.clientCertPair ? 'mTLS' : 'TLS') : undefined, o.apiKey ? 'API key' : undefined];
  const said = how.filter(Boolean).join(', ');
  return said ? `${o.address} (${said})` : o.address;
}
