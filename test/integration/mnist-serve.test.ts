import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MNIST_SIDE, mnistPixels } from '../../examples/mnist-folder.js';
import { imagePixels } from '../../src/model/image-pixels.js';
import { loadModel } from '../../src/model/load.js';
import type { MlpModel } from '../../src/model/mlp.js';
import { trainMlp } from '../../src/model/mlp.js';
import { serializeMlp } from '../../src/model/mlp-file.js';
import { createModelServer } from '../../src/serve/model-server.js';

const DYFFCTL = resolve(import.meta.dirname, '../../bin/dyffctl.mjs');
const png = (digit: number, n: number) =>
  sharp(mnistPixels(digit, n), { raw: { width: MNIST_SIDE, height: MNIST_SIDE, channels: 1 } })
    .png()
    .toBuffer();

let root: string;
let model: MlpModel;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dyff-mnist-serve-'));
  // The package's own split, small: the first 40 of each digit train, samples 900.. are never seen.
  const examples = [];
  for (let d = 0; d <= 9; d++) {
    for (let n = 0; n < 40; n++) {
      examples.push({ pixels: await imagePixels(await png(d, n), model0Size), label: String(d) });
    }
  }
  model = trainMlp(examples, { ...model0Size, hidden: 32, epochs: 6 });
  await mkdir(join(root, 'model'));
  await writeFile(join(root, 'model', 'model.json'), serializeMlp(model));
});
afterAll(() => rm(root, { recursive: true, force: true }));
const model0Size = { width: MNIST_SIDE, height: MNIST_SIDE };

async function call(base: string, body: string) {
  const res = await fetch(`${base}/generate`, { method: 'POST', body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const generate = async (base: string, image: Buffer | string) =>
  call(base, JSON.stringify({ image: typeof image === 'string' ? image : image.toString('base64') }));

describe('the image model behind the standalone server', () => {
  it('classifies base64 PNG and JPEG digits it never saw, and answers a bad image with a 400 saying why', async () => {
    const { predictor } = await loadModel(join(root, 'model'));
    const server = createModelServer({ load: () => Promise.resolve(predictor) });
    const { port } = await server.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    try {
      let correct = 0;
      for (let d = 0; d <= 9; d++) {
        for (let n = 900; n < 905; n++) {
          const r = await generate(base, await png(d, n));
          expect(r.status).toBe(200);
          const predictions = r.body.predictions as { label: string; score: number }[];
          expect(predictions).toHaveLength(10);
          expect(predictions.reduce((a, p) => a + p.score, 0)).toBeCloseTo(1, 6);
          if (predictions[0]!.label === String(d)) correct++;
        }
      }
      // 400 training images: far from the full model, far above chance (5 of 50).
      expect(correct).toBeGreaterThanOrEqual(30);

      // A larger JPEG of the same digit is scaled down to the model's size, as a camera's picture would be.
      const big = await sharp(await png(3, 950))
        .resize(112, 112)
        .jpeg()
        .toBuffer();
      expect((await generate(base, big)).status).toBe(200);

      expect(await generate(base, Buffer.from('not an image at all'))).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^field "image": not a decodable image/) as string },
      });
      expect(await generate(base, 'a!b@')).toEqual({
        status: 400,
        body: { error: 'field "image" is not base64' },
      });
      expect(await call(base, JSON.stringify({ text: 'seven' }))).toEqual({
        status: 400,
        body: { error: 'expected a JSON object with a string field "image" (a base64 PNG or JPEG)' },
      });
      // A truncated PNG: the header is there, the pixels are not.
      const cut = (await png(1, 901)).subarray(0, 60);
      expect((await generate(base, cut)).status).toBe(400);
    } finally {
      await server.close();
    }
  });

  it('dyffctl serve-model picks the image model from model.json and serves it', async () => {
    const child = spawn(
      process.execPath,
      [DYFFCTL, 'serve-model', '--model-dir', join(root, 'model'), '--port', '0', '--host', '127.0.0.1'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'close');
    const lines: string[] = [];
    const ready = new Promise<string>((resolve) =>
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (line.startsWith('serve-model: ready:')) resolve(line);
      }),
    );
    try {
      expect(await ready).toMatch(/image model \(MLP, 28×28 grey, 32 hidden\), 10 labels/);
      const base = /listening on (http:\/\/[\d.]+:\d+)/.exec(lines.join('\n'))![1]!;
      const r = await generate(base, await png(0, 910));
      expect(r.status).toBe(200);
      expect((r.body.predictions as unknown[]).length).toBe(10);
    } finally {
      child.kill('SIGTERM');
    }
    expect((await exited)[0]).toBe(0);
  });
});
