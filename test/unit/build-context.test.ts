import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBuildContext } from '../../src/activities/source-tarball.js';
import { generatedDockerfile } from '../../src/adapters/image-builder/docker-dockerfile.js';
import { FilesystemObjectStore } from '../../src/adapters/object-store/filesystem.js';

let root: string;
let store: FilesystemObjectStore;

/** Names and contents of a ustar archive's entries. */
function entries(tar: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0;) {
    const field = (from: number, len: number) =>
      tar
        .subarray(at + from, at + from + len)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12), 8);
    out.set(field(0, 100), tar.subarray(at + 512, at + 512 + size).toString('utf8'));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('the build context of a model without a Dockerfile', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'dyff-build-context-'));
    store = new FilesystemObjectStore({ root });
    await store.put('models', 'm1/files/model.json', '{"labels":[]}');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('gets the generated Dockerfile beside the model files, which it copies and serves', async () => {
    const generated = generatedDockerfile('dyff-temporal:dev');
    const input = { serviceId: 's1', modelId: 'm1', context: '.', dockerfile: 'Dockerfile', generated };
    const { key } = await packBuildContext(store, input);
    const tar = entries(gunzipSync(await store.getBuffer('inferenceservices', key)));
    expect([...tar.keys()]).toEqual(['model.json', 'Dockerfile']);
    expect(tar.get('Dockerfile')).toBe(generated);
    expect(generated).toMatch(
      /^FROM dyff-temporal:dev\nCOPY \. \/model\nCMD \["serve-model", "--model-dir", "\/model"\]$/m,
    );
  });

  it('is refused when no Dockerfile can be generated, naming spec.build.dockerfile', async () => {
    const input = { serviceId: 's1', modelId: 'm1', context: '.', dockerfile: 'Dockerfile' };
    await expect(packBuildContext(store, input)).rejects.toThrow(
      /spec\.build\.dockerfile: Dockerfile is not in/,
    );
  });
});
