import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Predictor } from '../../../src/serve/model-server.js';
import { createModelServer } from '../../../src/serve/model-server.js';
import { createPredictor, train } from '../../../src/model/naive-bayes.js';

const DYFFCTL = resolve(import.meta.dirname, '../../../bin/dyffctl.mjs');
const model = train([
  { text: 'cheap pills buy now', label: 'spam' },
  { text: 'meeting at noon tomorrow', label: 'ham' },
]);

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dyff-serve-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function call(base: string, method: string, path: string, body?: string) {
  const res = await fetch(`${base}${path}`, {
    method,
    body,
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('model server (in-process)', () => {
  it('answers /ready 503 while the model loads and 200 once it has', async () => {
    let loaded!: (p: Predictor) => void;
    const server = createModelServer({ load: () => new Promise<Predictor>((r) => (loaded = r)) });
    const { port } = await server.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    try {
      expect(await call(base, 'GET', '/ready')).toEqual({ status: 503, body: { status: 'loading' } });
      expect((await call(base, 'POST', '/generate', '{"text":"x"}')).status).toBe(503);
      loaded(createPredictor(model));
      await server.loaded;
      expect(await call(base, 'GET', '/ready')).toEqual({ status: 200, body: { status: 'ready' } });
    } finally {
      await server.close();
    }
  });

  it('classifies text, best label first, and refuses bad bodies with a JSON error', async () => {
    const server = createModelServer({ load: () => Promise.resolve(createPredictor(model)) });
    const { port } = await server.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    try {
      const ok = await call(base, 'POST', '/generate', JSON.stringify({ text: 'Buy CHEAP pills' }));
      expect(ok.status).toBe(200);
      const predictions = ok.body.predictions as { label: string; score: number }[];
      expect(predictions.map((p) => p.label)).toEqual(['spam', 'ham']);
      // spam ∝ (2/12)³, ham ∝ (1/12)³: 8/9.
      expect(predictions[0]!.score).toBeCloseTo(8 / 9, 12);
      expect(predictions[0]!.score + predictions[1]!.score).toBeCloseTo(1, 12);

      expect(await call(base, 'POST', '/generate', '{not json')).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^body is not JSON/) as string },
      });
      expect(await call(base, 'POST', '/generate', '{"prompt":"hi"}')).toEqual({
        status: 400,
        body: { error: 'expected a JSON object with a string field "text"' },
      });
      expect((await call(base, 'GET', '/generate')).status).toBe(405);
      expect((await call(base, 'POST', '/predict', '{}')).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('finishes a request in flight when it is closed, then stops', async () => {
    const server = createModelServer({ load: () => Promise.resolve(createPredictor(model)) });
    const { port } = await server.listen(0, '127.0.0.1');
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/generate' });
    const answered = once(req, 'response');
    req.write('{"text": "cheap');
    await once(server.server, 'request');
    const closed = server.close();
    req.end(' pills"}');
    const [res] = (await answered) as [IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({
      predictions: [{ label: 'spam' }, { label: 'ham' }],
    });
    await closed;
    expect(server.server.listening).toBe(false);
  });
});

describe('dyffctl serve-model', () => {
  it('serves a model folder on the port it is given and stops cleanly on SIGTERM (exit 0)', async () => {
    const dir = join(root, 'model');
    await mkdir(dir);
    await writeFile(join(dir, 'model.json'), JSON.stringify(model));
    const child = spawn(
      process.execPath,
      [DYFFCTL, 'serve-model', '--model-dir', dir, '--port', '0', '--host', '127.0.0.1'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = once(child, 'close');
    const lines: string[] = [];
    const base = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(line);
        if (m) resolve(m[1]!);
      }),
    );
    await new Promise<void>((resolve) => {
      const poll = () =>
        void call(base, 'GET', '/ready').then((r) => (r.status === 200 ? resolve() : setImmediate(poll)));
      poll();
    });
    expect((await call(base, 'POST', '/generate', '{"text":"lunch meeting"}')).body).toMatchObject({
      predictions: [{ label: 'ham' }, { label: 'spam' }],
    });
    child.kill('SIGTERM');
    const [code] = (await exited) as [number];
    expect(code).toBe(0);
    expect(lines.at(-1)).toBe('serve-model: stopped');
  });

  it('exits 1 naming the file when the folder holds no model', async () => {
    const child = spawn(
      process.execPath,
      [DYFFCTL, 'serve-model', '--model-dir', root, '--port', '0', '--host', '127.0.0.1'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, 'close')) as [number];
    expect(code).toBe(1);
    expect(out).toContain(`cannot load the model: ${join(root, 'model.json')} not found`);
  });
});
