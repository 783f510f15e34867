import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_TEMPFAIL } from '../../../src/domain/job-outcome.js';
import type { ModelManifest } from '../../../src/steps/fetch-model/manifest.js';
import type { HubServer } from './helpers/hub-server.js';
import { startHubServer } from './helpers/hub-server.js';
import type { SourceServer } from './helpers/source-server.js';
import { sha256, startSourceServer } from './helpers/source-server.js';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv, newId } from './helpers/step-env.js';

let env: StepEnv;
let hub: HubServer;
const savedEnv = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_TOKEN: process.env.HF_TOKEN };

beforeEach(async () => {
  env = await createStepEnv();
  hub = await startHubServer();
  process.env.HF_ENDPOINT = hub.endpoint;
  delete process.env.HF_TOKEN;
});
afterEach(async () => {
  Object.assign(process.env, savedEnv);
  for (const [k, v] of Object.entries(savedEnv)) if (v === undefined) delete process.env[k];
  await hub.close();
  await env.cleanup();
});

const fetchModel = (id: string, source: unknown, opts?: Parameters<StepEnv['run']>[3]) =>
  env.run('fetch-model', id, { source }, opts);
const manifestOf = async (id: string) =>
  JSON.parse((await env.store.getBuffer('models', `${id}/manifest.json`)).toString()) as ModelManifest;
const stored = (id: string, path: string) => env.store.getBuffer('models', `${id}/files/${path}`);
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

const weights = randomBytes(256 * 1024);
const repoFiles = {
  'config.json': '{"model_type":"bert"}',
  'model.safetensors': weights,
  'README.md': '# a model',
  'onnx/model.onnx': randomBytes(1000),
};

describe('fetch-model from the Hugging Face Hub', () => {
  it('lists the revision, filters by patterns, downloads from the resolved commit and verifies LFS sha256', async () => {
    hub.addRepo('acme/tiny-bert', {
      files: repoFiles,
      lfs: ['model.safetensors', 'onnx/model.onnx'],
      token: 'hf_secret',
    });
    process.env.HF_TOKEN = 'hf_secret';
    const id = newId();
    const source = {
      kind: 'huggingFaceHub',
      repoID: 'acme/tiny-bert',
      revision: 'main',
      allowPatterns: ['*.json', '*.safetensors', 'onnx/'],
      ignorePatterns: ['onnx/*'],
    };
    const run = await fetchModel(id, source);
    expect(run.code, run.lines.join('\n')).toBe(0);

    const manifest = await manifestOf(id);
    expect(manifest.commit).toBe(hub.commit);
    expect(manifest.source).toMatchObject({ repoID: 'acme/tiny-bert' });
    expect(manifest.files).toEqual([
      {
        path: 'config.json',
        size: 21,
        md5: md5(repoFiles['config.json']),
        sha256: sha256(repoFiles['config.json']),
      },
      { path: 'model.safetensors', size: weights.length, md5: md5(weights), sha256: sha256(weights) },
    ]);
    expect((await stored(id, 'model.safetensors')).equals(weights)).toBe(true);
    // Files come from the commit the revision resolved to; the token goes to the Hub and never to the CDN.
    expect(hub.log).toContain(
      `hub /acme/tiny-bert/resolve/${hub.commit}/model.safetensors Bearer hf_secret -`,
    );
    const cdn = hub.log.filter((l) => l.startsWith('cdn '));
    expect(cdn).toHaveLength(1);
    expect(cdn[0]).toMatch(/^cdn \/repos\/[0-9a-f]{64} - -$/);
    expect(JSON.stringify(manifest)).not.toContain('hf_secret');
  });

  it('resumes a cut LFS download through the redirect, without fetching the kept bytes again', async () => {
    hub.addRepo('acme/tiny-bert', { files: repoFiles, lfs: ['model.safetensors'] });
    hub.cutNext('model.safetensors', 2, 64 * 1024);
    const id = newId();
    const source = { kind: 'huggingFaceHub', repoID: 'acme/tiny-bert', allowPatterns: ['*.safetensors'] };

    const first = await fetchModel(id, source, { retry: { attempts: 2, baseDelayMs: 1 } });
    expect(first.code).toBe(EXIT_TEMPFAIL); // transient: the workflow runs the step again
    expect(first.last).toMatch(/^error: model\.safetensors: .*connection lost/);

    const second = await fetchModel(id, source);
    expect(second.code, second.lines.join('\n')).toBe(0);
    const ranges = hub.log.filter((l) => l.startsWith('cdn ')).map((l) => l.split(' ')[3]);
    expect(ranges[0]).toBe('-');
    expect(ranges.at(-1)).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(ranges.at(-1)!)![0])).toBeGreaterThan(64 * 1024);
    expect((await stored(id, 'model.safetensors')).equals(weights)).toBe(true);
  });

  it('refuses a file whose content does not match the sha256 the Hub lists (exit 2, no manifest)', async () => {
    hub.addRepo('acme/tiny-bert', {
      files: repoFiles,
      lfs: ['model.safetensors'],
      corrupt: ['model.safetensors'],
    });
    const id = newId();
    const run = await fetchModel(id, { kind: 'huggingFaceHub', repoID: 'acme/tiny-bert' });
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /^error: huggingFaceHub acme\/tiny-bert@main: model\.safetensors: sha256 checksum mismatch/,
    );
    expect(await env.store.stat('models', `${id}/manifest.json`)).toBeUndefined();
  });

  it('names the repo and HF_TOKEN for a private repo without a token, and the revision when it is unknown', async () => {
    hub.addRepo('acme/private', { files: repoFiles, token: 'hf_secret' });
    const denied = await fetchModel(newId(), { kind: 'huggingFaceHub', repoID: 'acme/private' });
    expect(denied.code).toBe(2);
    expect(denied.last).toBe('error: huggingFaceHub acme/private@main: HTTP 401 (Repository not found)');

    process.env.HF_TOKEN = 'hf_secret';
    const badRevision = await fetchModel(newId(), {
      kind: 'huggingFaceHub',
      repoID: 'acme/private',
      revision: 'v9',
    });
    expect(badRevision.code).toBe(2);
    expect(badRevision.last).toBe('error: huggingFaceHub acme/private@v9: HTTP 404 (Invalid rev id: v9)');
  });

  it('exits 2 when no file matches the patterns', async () => {
    hub.addRepo('acme/tiny-bert', { files: repoFiles });
    const run = await fetchModel(newId(), {
      kind: 'huggingFaceHub',
      repoID: 'acme/tiny-bert',
      allowPatterns: ['*.gguf'],
    });
    expect(run.code).toBe(2);
    expect(run.last).toMatch(/no file of 4 matches .*\*\.gguf/);
  });
});

describe('fetch-model from a folder and from URLs', () => {
  let source: SourceServer;
  beforeEach(async () => {
    source = await startSourceServer();
  });
  afterEach(() => source.close());

  it('copies a local folder, and a rerun keeps the files that are already complete', async () => {
    const dir = join(env.root, 'model');
    await mkdir(join(dir, 'tokenizer'), { recursive: true });
    await writeFile(join(dir, 'model.json'), '{"labels":[]}');
    await writeFile(join(dir, 'tokenizer', 'vocab.txt'), 'a\nb\n');
    const id = newId();
    expect((await fetchModel(id, { kind: 'local', path: dir })).code).toBe(0);
    expect((await manifestOf(id)).files.map((f) => f.path)).toEqual(['model.json', 'tokenizer/vocab.txt']);

    const again = await fetchModel(id, { kind: 'local', path: dir });
    expect(again.code).toBe(0);
    expect(again.lines).toContain('skip model.json (already complete)');
  });

  it('downloads URLs under the names given and verifies their checksums', async () => {
    const content = randomBytes(10_000);
    const url = source.serve('/weights/latest', content);
    const id = newId();
    const ok = await fetchModel(id, {
      kind: 'urls',
      urls: [{ url, path: 'model.bin', checksum: { sha256: sha256(content) } }],
    });
    expect(ok.code, ok.lines.join('\n')).toBe(0);
    expect((await stored(id, 'model.bin')).equals(content)).toBe(true);

    const wrong = await fetchModel(newId(), {
      kind: 'urls',
      urls: [{ url, path: 'model.bin', checksum: { sha256: sha256('x') } }],
    });
    expect(wrong.code).toBe(2);
    expect(wrong.last).toMatch(/^error: model\.bin: sha256 checksum mismatch/);
  });
});
