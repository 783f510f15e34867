import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DyffClient } from '../../src/client.js';
import type { Config } from '../../src/config.js';
import type { ApiKeyGateway } from '../support/api-key-gateway.js';
import { startApiKeyGateway } from '../support/api-key-gateway.js';
import { datasetThrough } from '../support/dataset-through.js';
import { testConfig } from '../support/temporal.js';
import { makePki } from '../support/test-pki.js';
import { cliEnv, DYFFCTL } from '../support/worker-process.js';

/*
 * Worker, DyffClient and `dyffctl` reach Temporal with an API key, as on Temporal Cloud: a gateway in front of the
 * dev server terminates TLS and refuses every call that does not carry the key; nothing reaches the server except
 * through it.
 */

const KEY = 'dyff-test-key-7f3a';
let config: Config;
let keyed: Config;
let cleanup: () => Promise<void>;
let gateway: ApiKeyGateway;
let ca: string;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  const pki = await makePki(config.dataHome);
  ca = pki.ca;
  gateway = await startApiKeyGateway({
    upstream: config.temporal.address,
    apiKey: KEY,
    keyFile: pki.serverKey,
    certFile: pki.serverCert,
  });
  keyed = {
    ...config,
    temporal: {
      ...config.temporal,
      address: `127.0.0.1:${gateway.port}`,
      apiKey: KEY,
      tls: { caFile: pki.ca, serverName: 'localhost' },
    },
  };
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await cleanup?.();
});

it(
  'a worker and DyffClient with the API key: a Dataset is created, waited for and listed',
  { timeout: 180_000 },
  async () => {
    const { done, listed } = await datasetThrough(keyed, 'keyed');
    expect(done.status, done.message).toBe('Ready');
    expect(listed).toEqual([done.id]);
    expect(gateway.counts.forwarded).toBeGreaterThan(10); // polls, starts, describes: every call carried the key
  },
);

it('a wrong key is refused, and the error names the address and the API key', async () => {
  const refused = gateway.counts.refused;
  const wrong = { ...keyed, temporal: { ...keyed.temporal, apiKey: 'not-the-key' } };
  await expect(DyffClient.connect(wrong)).rejects.toThrow(
    new RegExp(`cannot reach Temporal at ${keyed.temporal.address} \\(TLS, API key\\)`),
  );
  expect(gateway.counts.refused).toBeGreaterThan(refused);
}, 60_000);

it('`dyffctl setup` with the key from DYFF_TEMPORAL_API_KEY_FILE', { timeout: 60_000 }, async () => {
  const keyFile = join(config.dataHome, 'api-key');
  await writeFile(keyFile, `${KEY}\n`);
  const forwarded = gateway.counts.forwarded;
  const { stdout } = await promisify(execFile)('node', [DYFFCTL, 'setup'], {
    env: {
      ...cliEnv(keyed),
      DYFF_TEMPORAL_ADDRESS: keyed.temporal.address,
      DYFF_TEMPORAL_API_KEY_FILE: keyFile,
      DYFF_TEMPORAL_TLS_CA: ca,
      DYFF_TEMPORAL_TLS_SERVER_NAME: 'localhost',
    },
  });
  expect(stdout).toContain(`at ${keyed.temporal.address} (TLS, API key)`);
  expect(gateway.counts.forwarded).toBeGreaterThan(forwarded);
});
