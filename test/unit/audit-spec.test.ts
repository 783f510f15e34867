import { describe, expect, it } from 'vitest';
import { ProcedureDescriptor } from '../../src/domain/audit-procedure.js';
import { parseManifest } from '../../src/domain/manifest.js';
import { applySets } from '../../src/cli/set-fields.js';

const SHA = 'a'.repeat(40);
const ID = 'b'.repeat(32);
const audit = (spec: string) => () => parseManifest(`kind: Audit\naccount: a\nspec:\n${spec}`, 'audit.yaml');

describe('the Audit spec', () => {
  it('takes a git procedure at a full commit sha with a token by reference, and a target', () => {
    const m = audit(`  procedure:
    kind: git
    url: https://gitlab.example.com/acme/audits.git
    revision: ${SHA}
    token: { secretRef: { name: gitlab-pull, key: token } }
  inferenceService: ${ID}
`)();
    expect(m.spec).toMatchObject({ procedure: { kind: 'git', revision: SHA }, parameters: {} });
  });

  it.each([
    [
      'a branch as revision',
      `{ kind: git, url: 'https://h/r.git', revision: main }`,
      /spec\.procedure\.revision: expected a full commit sha/,
    ],
    [
      'credentials in the URL',
      `{ kind: git, url: 'https://u:p@h/r.git', revision: ${SHA} }`,
      /spec\.procedure\.url: expected an https:\/\/ URL without credentials/,
    ],
    ['plain http', `{ kind: git, url: 'http://h/r.git', revision: ${SHA} }`, /spec\.procedure\.url/],
    [
      'a nested bucket folder',
      `{ kind: object, prefix: a/b/ }`,
      /spec\.procedure\.prefix: expected one top-level folder/,
    ],
  ])('refuses %s, naming the field', (_what, procedure, message) => {
    expect(audit(`  procedure: ${procedure}\n  dataset: ${ID}\n`)).toThrow(message);
  });

  it('needs a target, and bounds its parameters', () => {
    expect(audit(`  procedure: { kind: local, path: p }\n`)).toThrow(/an audit needs a target/);
    expect(
      audit(
        `  procedure: { kind: local, path: p }\n  dataset: ${ID}\n  parameters: { blob: '${'x'.repeat(17_000)}' }\n`,
      ),
    ).toThrow(/spec\.parameters: larger than 16384 bytes/);
  });
});

describe('procedure.json', () => {
  it('names a Node.js entrypoint inside the procedure', () => {
    expect(ProcedureDescriptor.parse({ name: 'x', entrypoint: 'main.mjs' })).toEqual({
      name: 'x',
      entrypoint: 'main.mjs',
      probesModel: false,
      inputs: [],
    });
    for (const entrypoint of ['../main.mjs', '/abs/main.mjs', 'main.py'])
      expect(ProcedureDescriptor.safeParse({ name: 'x', entrypoint }).success, entrypoint).toBe(false);
    expect(
      ProcedureDescriptor.safeParse({ name: 'x', entrypoint: 'm.mjs', inputs: ['secrets'] }).success,
    ).toBe(false);
  });
});

describe('dyffctl create --set', () => {
  it('sets string fields by path, and refuses a path through a non-mapping', () => {
    const doc = { kind: 'Audit', spec: { procedure: { kind: 'local' } } };
    expect(applySets(doc, [`spec.evaluation=${'1'.repeat(32)}`], 'f')).toMatchObject({
      spec: { evaluation: '1'.repeat(32) },
    });
    expect(() => applySets(doc, ['spec.procedure.kind.x=1'], 'f')).toThrow(
      /spec\.procedure\.kind is not a mapping/,
    );
    expect(() => applySets(doc, ['novalue'], 'f')).toThrow(/expected path=value/);
    expect(() => applySets(doc, ['__proto__.x=1'], 'f')).toThrow(/expected path=value/);
  });
});
