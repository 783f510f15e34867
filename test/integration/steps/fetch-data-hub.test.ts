import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RawDataManifest } from '../../../src/steps/manifests.js';
import { query } from '../../support/duckdb.js';
import { datasetManifest, queryDataset } from './helpers/datasets.js';
import type { HubServer } from './helpers/hub-server.js';
import { startHubServer } from './helpers/hub-server.js';
import { md5, sha256 } from './helpers/source-server.js';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv, newId } from './helpers/step-env.js';

/**
 * fetch-data from a Hugging Face Hub dataset through the real step entry point, against the local Hub server the
 * fetch-model tests use: the revision resolved to a commit, the paged tree, LFS files through the CDN verified by
 * sha256, the token by secret reference; then the existing ingest reading what was fetched.
 */
let env: StepEnv;
let hub: HubServer;
let parquet: Buffer;
const savedEnv = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_TOKEN: process.env.HF_TOKEN };

beforeAll(async () => {
  // A real Parquet file, as the Hub's datasets mostly hold.
  const dir = await createStepEnv();
  const file = join(dir.root, 'train.parquet');
  await query(
    `COPY (SELECT * FROM (VALUES ('win money now', 'spam'), ('lunch at noon?', 'ham')) t(text, label))
     TO '${file}' (FORMAT parquet)`,
  );
  parquet = await readFile(file);
  await dir.cleanup();
});
beforeEach(async () => {
  env = await createStepEnv();
  hub = await startHubServer();
  process.env.HF_ENDPOINT = hub.endpoint;
  delete process.env.HF_TOKEN;
});
afterEach(async () => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await hub.close();
  await env.cleanup();
});

const testJsonl = '{"text":"free prize","label":"spam"}\n{"text":"see you","label":"ham"}\n';
const dataset = () => ({
  files: {
    '.gitattributes': '*.parquet filter=lfs diff=lfs merge=lfs -text\n',
    'README.md': '# spam mails',
    'data/train-00000-of-00001.parquet': parquet,
    'data/test.jsonl': testJsonl,
  },
  lfs: ['data/train-00000-of-00001.parquet'],
});
const TOKEN = { secretRef: { name: 'hub', key: 'token' } };

/** The token where the step's secret resolver finds it: `<dataHome>/secrets/hub.json`, mode 0600. */
async function storeToken(value: string) {
  const dir = join(env.config.dataHome, 'secrets');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'hub.json'), JSON.stringify({ token: value }));
  await chmod(join(dir, 'hub.json'), 0o600);
}
const manifestOf = async (id: string) =>
  JSON.parse((await env.store.getBuffer('rawdata', `${id}/manifest.json`)).toString()) as RawDataManifest;

describe('fetch-data from the Hugging Face Hub', () => {
  it('fetches the data files at the resolved commit with the referenced token, and ingest reads them', async () => {
    hub.addDataset('acme/spam-mails', { ...dataset(), token: 'hf_data' });
    hub.treePageSize = 2;
    await storeToken('hf_data');
    const id = newId();
    const source = { kind: 'huggingFaceHub', repoID: 'acme/spam-mails', token: TOKEN };
    const run = await env.run('fetch-data', id, { source });
    expect(run.code, run.lines.join('\n')).toBe(0);

    const manifest = await manifestOf(id);
    expect(manifest.commit).toBe(hub.commit);
    // README and .gitattributes are not data: by default only what ingest reads is fetched.
    expect(manifest.files).toEqual([
      { path: 'data/test.jsonl', size: testJsonl.length, md5: md5(testJsonl), sha256: sha256(testJsonl) },
      {
        path: 'data/train-00000-of-00001.parquet',
        size: parquet.length,
        md5: md5(parquet),
        sha256: sha256(parquet),
      },
    ]);
    // The tree came in pages (6 entries, 2 a page) and every file from the commit, the token only to the Hub.
    expect(hub.log.filter((l) => l.startsWith('hub /api/datasets/acme/spam-mails/tree/'))).toHaveLength(3);
    expect(hub.log).toContain(
      `hub /datasets/acme/spam-mails/resolve/${hub.commit}/data/train-00000-of-00001.parquet Bearer hf_data -`,
    );
    expect(hub.log.filter((l) => l.startsWith('cdn '))).toEqual([
      expect.stringMatching(/^cdn \/repos\/\S+ - -$/),
    ]);
    expect(JSON.stringify(manifest)).not.toContain('hf_data');
    expect(run.lines.join('\n')).not.toContain('hf_data');

    // Ingest picks the Parquet file up as any other raw file.
    const ingest = await env.run('ingest-dataset', id, { ingest: { include: '**/*.parquet' } });
    expect(ingest.code, ingest.lines.join('\n')).toBe(0);
    expect(await queryDataset(env, id, 'SELECT text, label FROM ds ORDER BY _index_')).toEqual([
      { text: 'win money now', label: 'spam' },
      { text: 'lunch at noon?', label: 'ham' },
    ]);
    // The dataset's own record says which commit its rows came from.
    expect((await datasetManifest(env, id)).commit).toBe(hub.commit);
  });

  it('takes allowPatterns and ignorePatterns as huggingface_hub does, and datasets/owner/name', async () => {
    hub.addDataset('acme/spam-mails', dataset());
    const id = newId();
    const run = await env.run('fetch-data', id, {
      source: {
        kind: 'huggingFaceHub',
        repoID: 'datasets/acme/spam-mails',
        revision: hub.commit,
        allowPatterns: ['*.md', 'data/'],
        ignorePatterns: ['*.parquet'],
      },
    });
    expect(run.code, run.lines.join('\n')).toBe(0);
    expect((await manifestOf(id)).files.map((f) => f.path)).toEqual(['README.md', 'data/test.jsonl']);
  });

  it('names the dataset for a wrong token, an unknown revision and a corrupt file (exit 2, no manifest)', async () => {
    hub.addDataset('acme/spam-mails', {
      ...dataset(),
      token: 'hf_data',
      corrupt: ['data/train-00000-of-00001.parquet'],
    });
    await storeToken('hf_wrong');
    const source = { kind: 'huggingFaceHub', repoID: 'acme/spam-mails', token: TOKEN };
    const denied = await env.run('fetch-data', newId(), { source });
    expect(denied.code).toBe(2);
    expect(denied.last).toBe(
      'error: huggingFaceHub datasets/acme/spam-mails@main: HTTP 401 (Repository not found)',
    );
    expect(denied.lines.join('\n')).not.toContain('hf_wrong');

    await storeToken('hf_data');
    const unknown = await env.run('fetch-data', newId(), { source: { ...source, revision: 'v9' } });
    expect(unknown.code).toBe(2);
    expect(unknown.last).toBe(
      'error: huggingFaceHub datasets/acme/spam-mails@v9: HTTP 404 (Invalid rev id: v9)',
    );

    const id = newId();
    const corrupt = await env.run('fetch-data', id, { source });
    expect(corrupt.code).toBe(2);
    expect(corrupt.last).toMatch(/^error: data\/train-00000-of-00001\.parquet: sha256 checksum mismatch/);
    expect(await env.store.stat('rawdata', `${id}/manifest.json`)).toBeUndefined();
  });
});
