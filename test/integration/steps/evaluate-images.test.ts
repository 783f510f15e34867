import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../src/domain/ids.js';
import { digitFolder } from './helpers/digits.js';
import type { EvalEnv, InferenceEndpoint } from './helpers/evaluation.js';
import { DEMO_SERVICE, createEvalEnv, startInferenceEndpoint } from './helpers/evaluation.js';

let env: EvalEnv;
let endpoint: InferenceEndpoint | undefined;
beforeEach(async () => {
  env = await createEvalEnv();
});
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
  await env.cleanup();
});

/** The demo service, sending the image column instead of text. */
const IMAGE_SERVICE = {
  ...DEMO_SERVICE,
  interface: {
    ...DEMO_SERVICE.interface,
    inputPipeline: [{ kind: 'TransformJSON', configuration: { image: '$.image', label: '$.label' } }],
  },
};

describe('evaluate, image datasets', () => {
  it('sends each image as base64 in the JSON request, byte for byte the file ingested', async () => {
    const files = await digitFolder('png', [2, 9], 2);
    const dir = join(env.root, 'digits');
    for (const [path, bytes] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), bytes);
    }
    const dataset = newId();
    const spec = JSON.stringify({ source: { kind: 'local', path: dir } });
    expect((await env.step('fetch-data', ['--id', dataset, '--spec', spec])).code).toBe(0);
    const ingested = await env.step('ingest-dataset', ['--id', dataset, '--spec', spec]);
    expect(ingested.code, ingested.last).toBe(0);

    endpoint = await startInferenceEndpoint();
    const id = newId();
    const evaluation = {
      dataset,
      inferenceService: newId(),
      replications: 1,
      client: { transientErrorRetryDelaySeconds: 0.01, requestTimeoutSeconds: 10 },
    };
    const run = await env.step('evaluate', [
      '--id',
      id,
      '--spec',
      JSON.stringify(evaluation),
      '--endpoint',
      endpoint.url,
      '--service',
      JSON.stringify(IMAGE_SERVICE),
    ]);
    expect(run.code, run.lines.join('\n')).toBe(0);
    const received = (endpoint.received as { image: string; label: string }[])
      .map((b) => ({ label: b.label, bytes: Buffer.from(b.image, 'base64') }))
      .sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    const expected = Object.entries(files)
      .map(([path, bytes]) => ({ label: path[0], bytes }))
      .sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    expect(received).toEqual(expected);
  });
});
