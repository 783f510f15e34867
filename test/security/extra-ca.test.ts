import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { stepCommand } from '../../src/adapters/index.js';
import { LocalProcessJobRunner } from '../../src/adapters/job-runner/local-process.js';
import { configEnv, loadConfig } from '../../src/config.js';
import { newId } from '../../src/domain/ids.js';
import { STEP_EXTRA_CA_CERTS } from '../../src/domain/step-environment.js';
import { storageFor } from '../../src/gcp/buckets.js';
import { trustExtraCasOnFirstUse } from '../../src/steps/net/extra-ca.js';
import type { Emulator } from '../support/gcp-emulators.js';
import { createTestBuckets, skipGcp, startFakeGcs } from '../support/gcp-emulators.js';
import { makePki, type TestPki } from '../support/test-pki.js';

/*
 * A step trusts its worker's extra certificates (a TLS-inspecting proxy's CA, a private Git host's) from its first
 * TLS connection on, through every client a step uses, without Node parsing them as the step starts. The server here
 * is a real HTTPS server on loopback whose certificate a test CA signed, which the system does not trust.
 */

let dir: string;
let pki: TestPki;
let other: TestPki;
let server: Server;
let origin: string;
let undo = () => {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyff-extra-ca-'));
  await Promise.all(['pki', 'other'].map((d) => mkdir(join(dir, d))));
  [pki, other] = await Promise.all([makePki(join(dir, 'pki')), makePki(join(dir, 'other'))]);
  server = createServer(
    { cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey) },
    (_req, res) => res.end('trusted'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterEach(() => {
  undo();
  undo = () => {};
  vi.restoreAllMocks();
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** GET through node:https (as guardedGet and the Cloud Storage client do), with extra options for tls.connect. */
function viaHttps(options: Record<string, unknown> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${origin}/`, { agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}
const viaFetch = async () => (await fetch(`${origin}/`)).text();
/** undici's Pool, as the evaluation client sends. */
async function viaUndici(): Promise<string> {
  const pool = new Pool(origin);
  try {
    return await (await pool.request({ path: '/', method: 'GET' })).body.text();
  } finally {
    await pool.close();
  }
}
const untrusted = /self[- ]signed|unable to (verify|get local issuer)/i;
const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'connected',
    (err: Error & { cause?: Error }) => `${err.message} ${err.cause?.message ?? ''}`,
  );

describe('a step trusts its worker’s extra certificates from its first TLS connection on', () => {
  it('without them, the test CA is not trusted (the check below can fail)', async () => {
    undo = trustExtraCasOnFirstUse({});
    expect(await failure(viaHttps())).toMatch(untrusted);
    expect(await failure(viaFetch())).toMatch(untrusted);
  });

  it('through node:https, fetch and undici, the file read at the first connection, not before', async () => {
    const file = join(dir, 'late-ca.pem');
    // The file does not exist yet when the step starts: nothing reads it until a TLS connection is opened.
    undo = trustExtraCasOnFirstUse({ [STEP_EXTRA_CA_CERTS]: file });
    await writeFile(file, await readFile(pki.ca));
    expect(await viaHttps()).toBe('trusted');
    expect(await viaFetch()).toBe('trusted');
    expect(await viaUndici()).toBe('trusted');
  });

  it('a caller with other context options gets the certificates as its ca; one with its own ca keeps it', async () => {
    undo = trustExtraCasOnFirstUse({ [STEP_EXTRA_CA_CERTS]: pki.ca });
    expect(await viaHttps({ minVersion: 'TLSv1.2' })).toBe('trusted');
    expect(await viaHttps({ ca: await readFile(pki.ca) })).toBe('trusted');
    // Its own ca, which is not the server's: refused, as with NODE_EXTRA_CA_CERTS.
    expect(await failure(viaHttps({ ca: await readFile(other.ca) }))).toMatch(untrusted);
  });

  it('a file that cannot be read is named on stderr and ignored, as Node does: the connection is refused', async () => {
    const missing = join(dir, 'no-such-ca.pem');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    undo = trustExtraCasOnFirstUse({ [STEP_EXTRA_CA_CERTS]: missing });
    expect(await failure(viaHttps())).toMatch(untrusted);
    expect(await failure(viaHttps())).toMatch(untrusted);
    const warnings = stderr.mock.calls.map(([text]) => String(text)).filter((t) => t.includes(missing));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${STEP_EXTRA_CA_CERTS}=${missing}`);
    expect(warnings[0]).toContain('ENOENT');
  });
});

/*
 * The same through a real step process as the local runner starts it, reaching Cloud Storage (fake-gcs-server
 * serving https with the test CA's certificate) with the Cloud Storage client: the worker's NODE_EXTRA_CA_CERTS
 * reaches the step as DYFF_EXTRA_CA_CERTS, and the step's uploads trust it.
 */
describe.skipIf(skipGcp)('a real step reaches Cloud Storage over TLS signed by the worker’s extra CA', () => {
  let gcs: Emulator;
  let home: string;
  let buckets: Record<string, string>;
  let trusting = () => {};
  beforeAll(async () => {
    home = join(dir, 'gcs-home');
    await mkdir(join(home, 'sources'), { recursive: true });
    await writeFile(join(home, 'sources', 'table.csv'), 'a,b\n1,2\n');
    // This process trusts the test CA the same way, for its readiness probe and the buckets made here.
    trusting = trustExtraCasOnFirstUse({ [STEP_EXTRA_CA_CERTS]: pki.ca });
    gcs = await startFakeGcs({ tls: { cert: pki.serverCert, key: pki.serverKey } });
    buckets = await createTestBuckets(gcs.endpoint, 'dyfftest', join(home, 'dyff.config.yaml'));
  }, 120_000);
  afterAll(async () => {
    trusting();
    await gcs?.stop();
  });

  async function fetchData(workerEnv: Record<string, string | undefined>) {
    const config = loadConfig(
      {
        dataHome: join(home, 'data'),
        objectStore: 'gcs',
        gcs: { apiEndpoint: gcs.endpoint, projectId: 'dyff-test', buckets },
        sources: { localRoots: [join(home, 'sources')] },
      },
      { DYFF_CONFIG: join(home, 'none.yaml') },
    );
    const runner = new LocalProcessJobRunner({
      root: join(home, 'jobs'),
      command: stepCommand(),
      env: configEnv(config),
      workerEnv,
    });
    const id = newId();
    const name = `fetch-data-${id}-1`;
    const spec = { source: { kind: 'local', path: join(home, 'sources') } };
    await runner.start({
      name,
      entityId: id,
      stage: 'fetch-data',
      args: ['fetch-data', '--id', id, '--spec', JSON.stringify(spec)],
    });
    return { id, end: await runner.wait(name) };
  }

  it('with the worker’s NODE_EXTRA_CA_CERTS: the step’s files are in the bucket', async () => {
    const { id, end } = await fetchData({ ...process.env, NODE_EXTRA_CA_CERTS: pki.ca });
    expect(end.phase, (end.logTail ?? []).join('\n')).toBe('succeeded');
    const [file] = await storageFor({ apiEndpoint: gcs.endpoint, prefix: 'dyfftest' })
      .bucket(buckets.rawdata!)
      .file(`${id}/files/table.csv`)
      .download();
    expect(file.toString()).toBe('a,b\n1,2\n');
  }, 120_000);

  it('without it, the step cannot reach the store, and its log says why', async () => {
    const { end } = await fetchData({ ...process.env, NODE_EXTRA_CA_CERTS: undefined });
    expect(end.phase).toBe('failed');
    expect((end.logTail ?? []).join('\n')).toMatch(untrusted);
  }, 120_000);
});
