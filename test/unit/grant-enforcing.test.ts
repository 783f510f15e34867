import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeFor } from '../../src/adapters/object-store/enforce.js';
import { FilesystemObjectStore } from '../../src/adapters/object-store/filesystem.js';
import type { GrantEnforcingObjectStore } from '../../src/adapters/object-store/grant-enforcing.js';
import { ACCESS_OF } from '../../src/adapters/object-store/grant-enforcing.js';
import { callerGrants, withheldGrantProblem } from '../../src/domain/enforced-grants.js';
import { DyffError, ErrorType } from '../../src/domain/errors.js';
import { ANY_SEGMENT, anyEntity, scopeGrants, stepBindings } from '../../src/domain/grant-scope.js';
import { loadConfig } from '../../src/config.js';
import type { ObjectStore } from '../../src/ports/object-store.js';

const EVAL = 'e'.repeat(32);
const DATASET = 'd'.repeat(32);
const REPORT = 'f'.repeat(32);

let dir: string;
let raw: FilesystemObjectStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyff-grants-'));
  raw = new FilesystemObjectStore({ root: dir });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const enforcing = { storage: { enforceGrants: true, withholdGrants: [] as string[] } };
const evaluateStore = (withheld: string[] = []) =>
  storeFor(
    raw,
    { storage: { enforceGrants: true, withholdGrants: withheld } },
    'evaluate',
    stepBindings(EVAL, { dataset: DATASET, inferenceService: 'a'.repeat(32) }),
  );

async function denial(call: Promise<unknown> | (() => unknown)): Promise<DyffError> {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (err) {
    expect(err).toBeInstanceOf(DyffError);
    return err as DyffError;
  }
  throw new Error('expected the call to be refused');
}

describe('operation → access', () => {
  it('reads are read, a create-only put is create, a plain put and append may overwrite, delete is delete', () => {
    expect(ACCESS_OF).toMatchObject({
      get: ['read'],
      getBuffer: ['read'],
      stat: ['read'],
      list: ['read'],
      sha256: ['read'],
      localPath: ['read'],
      putIfNotExists: ['create'],
      delete: ['delete'],
    });
    expect(ACCESS_OF.put).toContain('overwrite');
    expect(ACCESS_OF.append).toContain('overwrite');
  });

  it("a create-only grant (a step's log) allows ifNotExists puts and nothing else", async () => {
    const store = evaluateStore();
    const key = `${EVAL}/.dyff/logs/evaluate/001/000000000.txt`;
    await store.put('outputs', key, 'line\n', { ifNotExists: true });
    expect((await raw.getBuffer('outputs', key)).toString()).toBe('line\n');
    // outputs/<id>/ (read, create, overwrite) covers reading it back; deleting it is no grant's.
    expect((await store.getBuffer('outputs', key)).toString()).toBe('line\n');
    const err = await denial(store.delete('outputs', key));
    expect(err.type).toBe(ErrorType.AccessDenied);
    expect(err.message).toBe(
      `evaluation-client may not delete outputs/${key} (delete): no grant covers it (step catalogue)`,
    );
  });
});

describe('prefix resolution', () => {
  it('fills <id>, <spec.x> and options, and leaves out a grant whose placeholder has no value', () => {
    const grants = scopeGrants(
      [
        { category: 'outputs', prefix: '<spec.evaluation>/verified/', access: ['read'] },
        { category: 'datasets', prefix: '<dataset>/data/', access: ['read'] },
        { category: 'reports', prefix: '<id>/', access: ['create'] },
        { category: 'models', prefix: '<spec.model>/', access: ['read'] },
      ],
      stepBindings(REPORT, { evaluation: EVAL }, { dataset: DATASET }),
    );
    expect(grants.map((g) => [g.category, g.folders])).toEqual([
      ['outputs', [EVAL, 'verified']],
      ['datasets', [DATASET, 'data']],
      ['reports', [REPORT]],
    ]);
  });

  it('a dotted <spec.a.b> fills from a nested field, and is left out when the field is absent', () => {
    const grant = { category: 'datasets', prefix: '<spec.source.dataset>/', access: ['read'] } as const;
    const derived = { source: { kind: 'dataset', dataset: DATASET } };
    expect(scopeGrants([grant], stepBindings(EVAL, derived)).map((g) => g.folders)).toEqual([[DATASET]]);
    expect(scopeGrants([grant], stepBindings(EVAL, { source: { kind: 'url' } }))).toEqual([]);
    expect(scopeGrants([grant], stepBindings(EVAL, {}))).toEqual([]);
  });

  it('a value that is not one plain segment never widens a grant', () => {
    const scoped = scopeGrants(
      [{ category: 'datasets', prefix: '<spec.dataset>/', access: ['read'] }],
      stepBindings(EVAL, { dataset: '..' }),
    );
    expect(scoped).toEqual([]);
    expect(
      scopeGrants([{ category: 'datasets', prefix: '<spec.dataset>/', access: ['read'] }], () => 'a/b'),
    ).toEqual([]);
  });

  it("the worker's <id> matches every entity, one segment deep", async () => {
    const store = storeFor(raw, enforcing, 'dyff-worker', anyEntity) as GrantEnforcingObjectStore;
    expect(scopeGrants(callerGrants('dyff-worker').grants, anyEntity)[0]?.folders).toEqual([ANY_SEGMENT]);
    await raw.put('datasets', `${DATASET}/manifest.json`, '{}');
    expect((await store.getBuffer('datasets', `${DATASET}/manifest.json`)).toString()).toBe('{}');
    expect((await denial(store.list('datasets', ''))).message).toMatch(/dyff-worker may not read datasets\//);
    expect((await denial(store.getBuffer('rawdata', `${DATASET}/x`))).message).toContain('rawdata/');
    expect(store.denials).toHaveLength(2);
  });

  it('a listing must lie inside a read grant: a partial segment counts only within whole folders', async () => {
    const store = evaluateStore();
    await expect(store.list('datasets', `${DATASET}/data/part-`)).resolves.toEqual([]);
    expect((await denial(store.list('datasets', DATASET.slice(0, 4)))).message).toMatch(
      /^evaluation-client may not read datasets\/dddd \(list\)/,
    );
    expect((await denial(store.list('datasets', `${'0'.repeat(32)}/`))).type).toBe(ErrorType.AccessDenied);
  });
});

describe('denials', () => {
  it('name identity, access, category and key, and never reach the store', async () => {
    const store = evaluateStore(['evaluate:outputs:<id>/']);
    const key = `${EVAL}/checkpoints/part-00000.json`;
    const err = await denial(store.put('outputs', key, '{}'));
    expect(err.message).toBe(
      `evaluation-client may not overwrite outputs/${key} (put): no grant covers it (step catalogue)`,
    );
    expect(err.details).toMatchObject({ identity: 'evaluation-client', category: 'outputs', key });
    expect(await raw.stat('outputs', key)).toBeUndefined();
    // localPath is synchronous: it throws rather than rejects.
    expect((await denial(() => store.localPath?.('outputs', key))).message).toContain('(localPath)');
  });

  it('without enforcement the store is handed back as it is', () => {
    const store: ObjectStore = storeFor(
      raw,
      { storage: { enforceGrants: false, withholdGrants: [] } },
      'evaluate',
      anyEntity,
    );
    expect(store).toBe(raw);
  });

  it('storage.withholdGrants must name a grant of the catalogue', () => {
    expect(withheldGrantProblem('evaluate:outputs:<id>/')).toBeUndefined();
    expect(withheldGrantProblem('evaluate:outputs:<id>/data/')).toMatch(/no such grant; evaluate has/);
    expect(withheldGrantProblem('nobody:outputs:<id>/')).toMatch(/expected <step/);
    expect(() =>
      loadConfig({ storage: { withholdGrants: ['evaluate:reports:<id>/'] } }, { PATH: '' }),
    ).toThrow(/storage\.withholdGrants\.0: .*no such grant/);
    const fromEnv = loadConfig(
      {},
      { DYFF_ENFORCE_GRANTS: 'true', DYFF_WITHHOLD_GRANTS: 'report:reports:<id>/' },
    );
    expect(fromEnv.storage).toEqual({ enforceGrants: true, withholdGrants: ['report:reports:<id>/'] });
  });
});
