import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/adapters/process-group.js';
import { AesGcmCodec } from '../../src/codec/aes-gcm-codec.js';
import type { CodecServer } from '../../src/codec/codec-server.js';
import { startCodecServer } from '../../src/codec/codec-server.js';
import type { DevServer } from '../../src/dev/dev-server.js';
import { startDevServer } from '../../src/dev/dev-server.js';
import { chromium, chromiumPresent } from './steps/helpers/chromium.js';

/**
 * Acceptance: the Temporal UI (the dev server's, in headless Chromium) shows a workflow's input decoded when it is
 * started with the codec server as its codec endpoint, and only ciphertext when it is not. Same history both
 * times: the second server opens the first one's database.
 */
const MARKER = `decoded-input-${randomBytes(6).toString('hex')}`;
/** Screenshots go to a temporary directory; `DYFF_UPDATE_SCREENSHOTS=1` writes the ones docs/security.md shows. */
const SHOTS = process.env.DYFF_UPDATE_SCREENSHOTS ? resolve(import.meta.dirname, '../../docs') : undefined;
const codec = new AesGcmCodec([{ id: 'ui-test', key: randomBytes(32) }]);
const workflowId = `codec-ui-${randomBytes(4).toString('hex')}`;
let dir: string;
let codecServer: CodecServer;
let uiPort: number;
let runId: string;

async function withServer<T>(codecEndpoint: string | undefined, body: (s: DevServer) => Promise<T>) {
  const server = await startDevServer({
    port: 0,
    uiPort,
    dbFilename: join(dir, 'temporal.db'),
    uiCodecEndpoint: codecEndpoint,
  });
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

/** The workflow page as the browser renders it, after the UI's own requests (codec calls included) settle. */
async function page(png: string): Promise<string> {
  const url = `http://127.0.0.1:${uiPort}/namespaces/default/workflows/${workflowId}/${runId}/history`;
  const flags = ['--disable-quic', '--window-size=1400,1000', '--virtual-time-budget=10000'];
  // On a loaded machine the budget can run out before the UI has rendered the run at all (the DOM is still the
  // app's empty shell): load the page again, a few times at most, until it names the workflow.
  let stdout = '';
  for (let attempt = 0; attempt < 4 && !stdout.includes(workflowId); attempt++) {
    ({ stdout } = await chromium([...flags, '--dump-dom', url]));
  }
  const shot = await chromium([...flags, `--screenshot=${png}`, url]);
  expect(existsSync(png), shot.stderr.split('\n').slice(-15).join('\n')).toBe(true);
  return stdout;
}

beforeAll(async () => {
  if (!(await chromiumPresent())) throw new Error('/usr/bin/chromium not found: apt-get install -y chromium');
  dir = await mkdtemp(join(tmpdir(), 'dyff-codec-ui-'));
  uiPort = await freePort();
  const origins = [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`];
  codecServer = await startCodecServer({ codec, uiOrigins: origins, namespace: 'default' }, 0);
});
afterAll(async () => {
  await codecServer?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Temporal UI and the codec server', { timeout: 240_000 }, () => {
  it('shows the decoded input with the codec server, ciphertext without it', async () => {
    const decoded = await withServer(codecServer.url, async (server) => {
      const client = new Client({
        connection: server.env.connection,
        dataConverter: { payloadCodecs: [codec] },
      });
      // No worker on this queue: the input is recorded (encrypted) in the first event; terminated, so that the
      // UI's page settles instead of long-polling a running history.
      const handle = await client.workflow.start('datasetWorkflow', {
        taskQueue: 'nobody-polls-this',
        workflowId,
        args: [{ marker: MARKER }],
      });
      runId = handle.firstExecutionRunId;
      await handle.terminate('shown in the UI test');
      const history = await handle.fetchHistory();
      const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      expect(Buffer.from(input!.data!).includes(MARKER)).toBe(false);
      return page(join(SHOTS ?? dir, 'codec-ui-decoded.png'));
    });
    expect(decoded).toContain(MARKER);

    const encrypted = await withServer(undefined, () => page(join(SHOTS ?? dir, 'codec-ui-encrypted.png')));
    expect(encrypted).not.toContain(MARKER);
    // The UI shows what it cannot decode as it is stored: encoding binary/encrypted (base64 in the JSON view).
    expect(encrypted).toMatch(/binary\/encrypted|YmluYXJ5L2VuY3J5cHRlZA/);
  });
});
