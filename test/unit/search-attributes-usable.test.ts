import { describe, expect, it } from 'vitest';
import { untilUsable } from '../../src/search-attributes-setup.js';

// The server's side (a fresh dev server refusing attributes until its caches refresh) is tested against a real
// server in test/integration/search-attributes-ready.test.ts; this is the wait's own bookkeeping.
describe('untilUsable', () => {
  it('queries every attribute it waits for, until the query is accepted', async () => {
    const queries: string[] = [];
    let refusals = 2;
    await untilUsable(
      {
        countWorkflowExecutions: async ({ query }) => {
          queries.push(query);
          if (refusals-- > 0) throw new Error('no mapping defined for search attribute DyffKind');
          return {};
        },
      },
      'default',
      ['DyffKind', 'DyffSummary'],
      { settleMs: 0 },
    );
    expect(queries).toHaveLength(3);
    expect(queries[0]).toBe("DyffKind = 'dyff-setup-probe' OR DyffSummary = 'dyff-setup-probe'");
  });

  it('gives up with an error that names the namespace, the attributes and what to do', async () => {
    const refuse = async () => {
      throw new Error('no mapping defined for search attribute DyffKind');
    };
    await expect(
      untilUsable({ countWorkflowExecutions: refuse }, 'evals', ['DyffKind'], {
        timeoutMs: 250,
        settleMs: 0,
      }),
    ).rejects.toThrow(
      /namespace evals: the search attributes DyffKind were registered but are still not usable .*no mapping.*try again/,
    );
  });
});
