import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';
import { describeConnection, temporalConnectionOptions } from '../../src/temporal-connection.js';

const dir = mkdtempSync(join(tmpdir(), 'dyff-tls-'));
const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
const noFile = { DYFF_CONFIG: join(dir, 'none.yaml') };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the Temporal connection from configuration', () => {
  it('is plain by default (the dev server)', () => {
    const o = temporalConnectionOptions(loadConfig({}, noFile).temporal);
    expect(o).toEqual({ address: 'localhost:7233' });
    expect(describeConnection(o)).toBe('localhost:7233');
  });

  it('reads CA, client certificate, key, server name and API key from DYFF_TEMPORAL_* variables', () => {
    const env = {
      ...noFile,
      DYFF_TEMPORAL_ADDRESS: 'ns.tmprl.example:7233',
      DYFF_TEMPORAL_TLS_CA: file('ca.pem', 'CA'),
      DYFF_TEMPORAL_TLS_CERT: file('c.pem', 'CERT'),
      DYFF_TEMPORAL_TLS_KEY: file('c.key', 'KEY'),
      DYFF_TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      DYFF_TEMPORAL_API_KEY_FILE: file('api-key', 'sekrit\n'),
    };
    const o = temporalConnectionOptions(loadConfig({}, env).temporal);
    expect(o.apiKey).toBe('sekrit');
    expect(o.tls?.serverNameOverride).toBe('temporal.internal');
    expect(Buffer.from(o.tls!.serverRootCACertificate!).toString()).toBe('CA');
    expect(Buffer.from(o.tls!.clientCertPair!.crt).toString()).toBe('CERT');
    expect(Buffer.from(o.tls!.clientCertPair!.key).toString()).toBe('KEY');
    expect(describeConnection(o)).toBe('ns.tmprl.example:7233 (mTLS, API key)');
  });

  it('an API key alone turns TLS on with the system roots; DYFF_TEMPORAL_TLS=false keeps it off', () => {
    const on = temporalConnectionOptions(loadConfig({}, { ...noFile, DYFF_TEMPORAL_API_KEY: 'k' }).temporal);
    expect(on).toEqual({ address: 'localhost:7233', apiKey: 'k', tls: {} });
    const off = loadConfig({}, { ...noFile, DYFF_TEMPORAL_API_KEY: 'k', DYFF_TEMPORAL_TLS: 'false' });
    expect(temporalConnectionOptions(off.temporal).tls).toBeUndefined();
  });

  it('a certificate without its key, or an unreadable file, is refused naming the setting', () => {
    expect(() => loadConfig({ temporal: { tls: { certFile: 'c.pem' } } }, noFile)).toThrow(
      /temporal\.tls.*certFile and keyFile go together/,
    );
    const config = loadConfig({ temporal: { tls: { caFile: join(dir, 'missing.pem') } } }, noFile);
    expect(() => temporalConnectionOptions(config.temporal)).toThrow(
      `temporal.tls.caFile: cannot read ${join(dir, 'missing.pem')} (ENOENT)`,
    );
  });

  it('docker-compose registers the search attributes with dyffctl setup, from the workflows own list', () => {
    const compose = readFileSync(join(import.meta.dirname, '../../docker-compose.yml'), 'utf8');
    const setup = /\n {2}temporal-setup:\n([\s\S]*?)\n {2}\S/.exec(compose)?.[1] ?? '';
    expect(setup).toMatch(/dyffctl\.mjs setup && exit 0/);
    // No second, hand-kept list of names that could drift from src/domain/search-attributes.ts.
    expect(compose).not.toMatch(/for name in Dyff/);
    expect(SEARCH_ATTRIBUTES.length).toBeGreaterThan(0);
  });
});
