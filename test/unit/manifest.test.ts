import { describe, expect, it } from 'vitest';
import { DyffError } from '../../src/domain/errors.js';
import { parseManifest } from '../../src/domain/manifest.js';

const ok = `
kind: Dataset
account: public
metadata: { name: demo, labels: { team: eval } }
spec:
  source: { kind: url, url: "https://example.org/data.csv" }
  ingest: { format: csv }
`;

function errorOf(text: string): string {
  try {
    parseManifest(text, 'spec.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(DyffError);
    expect((err as DyffError).type).toBe('InvalidSpec');
    return (err as Error).message;
  }
  throw new Error('expected the manifest to be refused');
}

describe('parseManifest', () => {
  it('accepts a valid Dataset manifest and fills defaults', () => {
    const m = parseManifest(ok, 'spec.yaml');
    expect(m).toMatchObject({
      kind: 'Dataset',
      account: 'public',
      metadata: { name: 'demo', labels: { team: 'eval' } },
    });
    expect(m.spec).toMatchObject({ source: { kind: 'url' }, ingest: { format: 'csv' } });
  });

  it.each([
    ['bad YAML', 'kind: Dataset\n  account: [unclosed', /spec\.yaml: not valid YAML/],
    ['not a mapping', '- just\n- a list', /expected a mapping with kind, account and spec/],
    [
      'unknown kind',
      ok.replace('kind: Dataset', 'kind: Datset'),
      /kind: unknown kind "Datset"; expected one of/,
    ],
    ['missing account', ok.replace('account: public', ''), /^ {2}account: /m],
    [
      'account with capitals',
      ok.replace('account: public', 'account: Public'),
      /account: expected a lowercase account name/,
    ],
    ['missing spec', 'kind: Dataset\naccount: public\n', /spec: required/],
    ['missing source', ok.replace(/ {2}source:.*\n/, ''), /spec\.source: /],
    ['unknown source kind', ok.replace('kind: url', 'kind: ftp'), /spec\.source\.kind: /],
    [
      'source URL not http(s)',
      ok.replace('https://example.org/data.csv', 'ftp://example.org/x'),
      /spec\.source\.url: expected http\(s\) URL/,
    ],
    [
      'wrong type',
      ok.replace('{ format: csv }', '{ format: csv, shardRows: "many" }'),
      /spec\.ingest\.shardRows: /,
    ],
    [
      'unknown field',
      ok.replace('{ format: csv }', '{ format: csv, colums: [a] }'),
      /spec\.ingest: .*colums/,
    ],
    ['unknown format', ok.replace('{ format: csv }', '{ format: xlsx }'), /spec\.ingest\.format: /],
    [
      'bad checksum',
      ok.replace('"https://example.org/data.csv"', '"https://example.org/data.csv", checksum: { md5: xyz }'),
      /spec\.source\.checksum\.md5: expected 32 lowercase hex digits/,
    ],
    [
      'non-numeric zenodo record',
      ok.replace('{ kind: url, url: "https://example.org/data.csv" }', '{ kind: zenodo, record: abc }'),
      /spec\.source\.record: expected a numeric Zenodo record id/,
    ],
    ['bad label key', ok.replace('team: eval', '"-bad": eval'), /metadata\.labels\.-bad: /],
    [
      'negative file limit',
      ok.replace('"https://example.org/data.csv"', '"https://example.org/data.csv", maxFileBytes: -1'),
      /spec\.source\.maxFileBytes: /,
    ],
  ])('%s → a clear error naming the field', (_name, text, pattern) => {
    expect(errorOf(text)).toMatch(pattern);
  });

  it('reports every problem at once, each with its path', () => {
    const message = errorOf(
      'kind: Dataset\naccount: public\nspec:\n  source: { kind: url, url: nope }\n  ingest: { format: xlsx }\n',
    );
    expect(message).toMatch(/spec\.source\.url: expected http\(s\) URL/);
    expect(message).toMatch(/spec\.ingest\.format: /);
  });
});
