import { execFile } from 'node:child_process';
import { connect, type Server as NetServer, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DyffClient } from '../../src/client.js';
import type { Config } from '../../src/config.js';
import { SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';
import { testConfig } from '../support/temporal.js';
import { datasetThrough } from '../support/dataset-through.js';
import type { TestPki } from '../support/test-pki.js';
import { makePki } from '../support/test-pki.js';
import { cliEnv, DYFFCTL } from '../support/worker-process.js';

/*
 * Worker, DyffClient and `dyffctl` reach Temporal over mutual TLS. The dev server speaks plain gRPC, so a TLS
 * terminator stands in front of it as a load balancer would: it demands a client certificate signed by the test's
 * CA and forwards the decrypted HTTP/2 to the server. Nothing reaches the server except through it.
 */

const exec = promisify(execFile);
let config: Config;
let tls: Config;
let cleanup: () => Promise<void>;
let proxy: NetServer;
let pki: TestPki;
const handshakes = { authorized: 0, refused: 0 };

async function startTlsProxy(upstream: string): Promise<number> {
  const [host, port] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.split(':').at(-1))];
  const { readFile } = await import('node:fs/promises');
  proxy = createServer(
    {
      key: await readFile(pki.serverKey),
      cert: await readFile(pki.serverCert),
      ca: await readFile(pki.ca),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (socket: TLSSocket) => {
      handshakes.authorized++;
      const up: Socket = connect(port, host === 'localhost' ? '127.0.0.1' : host);
      socket.pipe(up).pipe(socket);
      socket.on('error', () => up.destroy());
      up.on('error', () => socket.destroy());
    },
  );
  proxy.on('tlsClientError', () => handshakes.refused++);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return (proxy.address() as { port: number }).port;
}

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  pki = await makePki(config.dataHome);
  const port = await startTlsProxy(config.temporal.address);
  tls = {
    ...config,
    temporal: {
      ...config.temporal,
      address: `127.0.0.1:${port}`,
      tls: { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey, serverName: 'localhost' },
    },
  };
}, 60_000);

afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await cleanup?.();
});

it(
  'a worker and DyffClient over mTLS: a Dataset is created, waited for and listed',
  { timeout: 180_000 },
  async () => {
    const { done, listed } = await datasetThrough(tls, 'tls');
    expect(done.status, done.message).toBe('Ready');
    expect(listed).toEqual([done.id]);
    expect(handshakes.authorized).toBeGreaterThanOrEqual(2); // the worker's connection and the client's
  },
);

it('without a client certificate the handshake is refused, and the error names the address and TLS', async () => {
  const refusedBefore = handshakes.refused;
  const noCert = {
    ...tls,
    temporal: { ...tls.temporal, tls: { caFile: pki.ca, serverName: 'localhost' } },
  };
  await expect(DyffClient.connect(noCert)).rejects.toThrow(
    new RegExp(`cannot reach Temporal at ${tls.temporal.address} \\(TLS\\)`),
  );
  expect(handshakes.refused).toBeGreaterThan(refusedBefore);
  const missing = { ...tls, temporal: { ...tls.temporal, tls: { caFile: '/nonexistent/ca.pem' } } };
  await expect(DyffClient.connect(missing)).rejects.toThrow(
    /temporal\.tls\.caFile: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/,
  );
}, 60_000);

it(
  '`dyffctl setup` over mTLS from DYFF_TEMPORAL_TLS_* variables: every search attribute is already there',
  { timeout: 60_000 },
  async () => {
    const { stdout } = await exec('node', [DYFFCTL, 'setup'], {
      env: {
        ...cliEnv(tls),
        DYFF_TEMPORAL_ADDRESS: tls.temporal.address,
        DYFF_TEMPORAL_TLS_CA: pki.ca,
        DYFF_TEMPORAL_TLS_CERT: pki.clientCert,
        DYFF_TEMPORAL_TLS_KEY: pki.clientKey,
        DYFF_TEMPORAL_TLS_SERVER_NAME: 'localhost',
      },
    });
    expect(stdout.trim()).toBe(
      `namespace ${tls.temporal.namespace} at ${tls.temporal.address} (mTLS) already has all ${SEARCH_ATTRIBUTES.length} search attributes`,
    );
  },
);
