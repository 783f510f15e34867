import { describe, expect, it } from 'vitest';
import {
  AdapterConfigError,
  ResponseShapeError,
  compilePipeline,
} from '../../src/steps/evaluate/adapters.js';
import { replicationIds, uuid5Hex } from '../../src/uuid5.js';

describe('TransformJSON', () => {
  it('builds a request from a row: paths, nested templates, literals, and missing fields left out', () => {
    const toRequest = compilePipeline(
      [
        {
          kind: 'TransformJSON',
          configuration: {
            model: 'gpt-x',
            messages: [{ role: 'user', content: '$.text' }],
            max_tokens: 100,
            meta: { first: '$.tags[0]', last: '$.tags[-1]', quoted: "$['odd key']" },
            price: '$$5',
            absent: '$.nope.deeper',
          },
        },
      ],
      'inputPipeline',
    );
    expect(toRequest({ text: 'hi', tags: ['a', 'b', 'c'], 'odd key': 1 })).toEqual([
      {
        model: 'gpt-x',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 100,
        meta: { first: 'a', last: 'c', quoted: 1 },
        price: '$5',
      },
    ]);
  });

  it('maps over every element with [*]', () => {
    const texts = compilePipeline(
      [{ kind: 'TransformJSON', configuration: { texts: '$.choices[*].message.content' } }],
      'outputPipeline',
    );
    expect(texts({ choices: [{ message: { content: 'x' } }, { message: {} }] })).toEqual([
      { texts: ['x', null] },
    ]);
  });

  it('refuses a path it cannot parse, naming where it is', () => {
    expect(() =>
      compilePipeline([{ kind: 'TransformJSON', configuration: { a: { b: '$.x[' } } }], 'inputPipeline'),
    ).toThrow(new AdapterConfigError(`inputPipeline[0].configuration.a.b: cannot parse "$.x[" at offset 3`));
  });
});

describe('ExplodeCollections', () => {
  const explode = compilePipeline(
    [{ kind: 'ExplodeCollections', configuration: { collections: ['label', 'score'] } }],
    'outputPipeline',
  );

  it('turns parallel lists into one record per position, copying other fields and adding _response_index_', () => {
    expect(explode({ label: ['spam', 'ham'], score: [0.9, 0.1], model: 'nb' })).toEqual([
      { label: 'spam', score: 0.9, model: 'nb', _response_index_: 0 },
      { label: 'ham', score: 0.1, model: 'nb', _response_index_: 1 },
    ]);
    expect(explode({ label: [], score: [] })).toEqual([]);
  });

  it('copies a response field named __proto__ as a field, never as the record prototype', () => {
    const response = JSON.parse(
      '{"__proto__": {"polluted": true}, "label": ["a"], "score": [1]}',
    ) as Parameters<typeof explode>[0];
    const [record] = explode(response);
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect((record as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(record, '__proto__')?.value).toEqual({ polluted: true });
    expect(JSON.stringify(record)).toBe(
      '{"__proto__":{"polluted":true},"label":"a","score":1,"_response_index_":0}',
    );
  });

  it('rejects a response whose collections are missing or differ in length', () => {
    expect(() => explode({ label: 'spam', score: [1] })).toThrow(ResponseShapeError);
    expect(() => explode({ label: ['a'], score: [1, 2] })).toThrow(/differ in length \(label: 1, score: 2\)/);
  });

  it('chains with TransformJSON to flatten a list of objects (the demo model server)', () => {
    const demo = compilePipeline(
      [
        { kind: 'ExplodeCollections', configuration: { collections: ['predictions'] } },
        {
          kind: 'TransformJSON',
          configuration: {
            label: '$.predictions.label',
            score: '$.predictions.score',
            _response_index_: '$._response_index_',
          },
        },
      ],
      'outputPipeline',
    );
    const response = {
      predictions: [
        { label: 'spam', score: 0.97 },
        { label: 'ham', score: 0.03 },
      ],
    };
    expect(demo(response)).toEqual([
      { label: 'spam', score: 0.97, _response_index_: 0 },
      { label: 'ham', score: 0.03, _response_index_: 1 },
    ]);
  });

  it('refuses a configuration without collections', () => {
    expect(() =>
      compilePipeline([{ kind: 'ExplodeCollections', configuration: {} }], 'outputPipeline'),
    ).toThrow(/outputPipeline\[0\]\.configuration\.collections/);
  });
});

describe('replication ids', () => {
  it('are uuid5(evaluation id, str(i)).hex, as Python computes them', () => {
    // uuid.uuid5(uuid.UUID('0123456789abcdef0123456789abcdef'), '0').hex
    expect(replicationIds('0123456789abcdef0123456789abcdef', 2)).toEqual([
      '0fef303490445e41b339353547304342',
      '6aff54633c7f59e2a01fee3f104a82af',
    ]);
    // The RFC 4122 example namespace (DNS) and Python's documented uuid5(NAMESPACE_DNS, 'python.org').
    expect(uuid5Hex('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe(
      '886313e13b8a53729b900c9aee199e5d',
    );
  });
});
