import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { STEP_EXTRA_CA_CERTS } from '../../domain/step-environment.js';

/*
 * A local step gets the certificates its worker trusts besides the system's (the worker's `NODE_EXTRA_CA_CERTS`: a
 * TLS-inspecting proxy's CA, a private Git host's) as `STEP_EXTRA_CA_CERTS`. Node 20 reads and parses
 * `NODE_EXTRA_CA_CERTS` as the process starts, whether or not it ever opens a TLS connection (~40 ms for a system
 * bundle), and has no way to add certificates later (`tls.setDefaultCACertificates` came after it). A step given the
 * file under the other name trusts the same certificates from its first TLS connection on, and one that opens none
 * never reads it.
 */

/** Options of `tls.connect` that shape the connection's secure context; a caller that sets one gets its own. */
const CONTEXT_OPTIONS = [
  'secureContext',
  'ca',
  'pfx',
  'cert',
  'key',
  'passphrase',
  'crl',
  'ciphers',
  'sigalgs',
  'ecdhCurve',
  'dhparam',
  'honorCipherOrder',
  'minVersion',
  'maxVersion',
  'secureProtocol',
  'secureOptions',
  'sessionIdContext',
  'ticketKeys',
  'sessionTimeout',
  'clientCertEngine',
  'privateKeyEngine',
  'privateKeyIdentifier',
] as const;

/** Options that choose the trust itself: left as the caller gave them, as Node does with its extra certificates. */
const TRUST_OPTIONS = new Set<string>(['secureContext', 'ca', 'pfx']);

type Connect = typeof tls.connect;

/**
 * Every TLS connection this process opens (node:https, fetch, undici, the Cloud Storage client: all go through
 * `tls.connect`) trusts the system's certificates and those of the file `env[STEP_EXTRA_CA_CERTS]`, read and parsed
 * at the first connection, once. A connection whose caller chose its own trust (`ca`, `pfx`, `secureContext`) keeps
 * it, as with `NODE_EXTRA_CA_CERTS`; one with other context options (a client certificate, a minimum version) gets
 * the certificates as its `ca`. A file that cannot be read or parsed is reported on stderr and ignored, as Node
 * does. Returns what undoes it (tests); without the variable, does nothing.
 */
export function trustExtraCasOnFirstUse(env: Record<string, string | undefined> = process.env): () => void {
  const file = env[STEP_EXTRA_CA_CERTS];
  if (!file) return () => {};
  const original: Connect = tls.connect;
  let trusted: { ca: string[]; context: tls.SecureContext } | null | undefined;
  const load = () => {
    if (trusted !== undefined) return trusted;
    try {
      const ca = [...tls.rootCertificates, readFileSync(file, 'utf8')];
      trusted = { ca, context: tls.createSecureContext({ ca }) };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      process.stderr.write(
        `warn: ignoring the worker's extra certificates (${STEP_EXTRA_CA_CERTS}=${file}, from its ` +
          `NODE_EXTRA_CA_CERTS): ${why}; TLS connections trust the system's certificates only\n`,
      );
      trusted = null;
    }
    return trusted;
  };
  const connect = function (this: unknown, ...args: unknown[]) {
    // connect(options[, cb]), connect(port[, host][, options][, cb]), connect(path[, options][, cb])
    let at = args.findIndex((a) => a !== null && typeof a === 'object');
    if (at < 0) {
      at = typeof args.at(-1) === 'function' ? args.length - 1 : args.length;
      args.splice(at, 0, {});
    }
    const options = args[at] as Record<string, unknown>;
    const set = CONTEXT_OPTIONS.filter((k) => options[k] !== undefined);
    if (!set.some((k) => TRUST_OPTIONS.has(k))) {
      const extra = load();
      if (extra)
        args[at] = set.length ? { ...options, ca: extra.ca } : { ...options, secureContext: extra.context };
    }
    return Reflect.apply(original, this, args) as tls.TLSSocket;
  } as Connect;
  tls.connect = connect;
  return () => {
    if (tls.connect === connect) tls.connect = original;
  };
}
