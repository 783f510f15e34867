import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { EvalEnv } from './helpers/evaluation.js';
import { createEvalEnv, putDataset } from './helpers/evaluation.js';
import { newId } from './helpers/step-env.js';

/** An `http` service's API key: named in the description, resolved by the evaluate step, sent only as a header. */
const KEY = `sk-canary-${randomBytes(8).toString('hex')}`;
let env: EvalEnv;
beforeEach(async () => {
  env = await createEvalEnv();
  await mkdir(join(env.config.dataHome, 'secrets'), { recursive: true });
  await writeFile(join(env.config.dataHome, 'secrets', 'endpoint.json'), JSON.stringify({ 'api-key': KEY }), {
    mode: 0o600,
  });
});
afterEach(() => env.cleanup());

it('sends the referenced API key as a bearer token and never prints it', async () => {
  const seen: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    req.resume();
    const ok = req.headers.authorization === `Bearer ${KEY}`;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { label: 'ham' } : { error: 'unauthorized' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/classify`;
  try {
    const dataset = await putDataset(env, [{ text: 'a' }, { text: 'b' }]);
    const service = (key: string) => ({
      serviceId: newId(),
      runner: 'http',
      endpoint: url,
      apiKey: { secretRef: { name: 'endpoint', key } },
      interface: {},
    });
    const spec = { dataset, inferenceService: newId(), replications: 1, workersPerReplica: 1 };
    const args = (key: string) => [
      '--id',
      newId(),
      '--spec',
      JSON.stringify(spec),
      '--service',
      JSON.stringify(service(key)),
    ];
    const run = await env.step('evaluate', args('api-key'));
    expect(run.code, run.lines.join('\n')).toBe(0);
    expect(seen).toEqual([`Bearer ${KEY}`, `Bearer ${KEY}`]);
    expect(run.lines.join('\n')).not.toContain(KEY);

    const missing = await env.step('evaluate', args('other-key'));
    expect(missing.code).toBe(2);
    expect(missing.last).toMatch(
      /secret endpoint\/other-key: .*endpoint\.json has no string value for key "other-key"/,
    );
    expect(seen).toHaveLength(2);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
