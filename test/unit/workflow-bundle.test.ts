import { createRequire } from 'node:module';
import { expect, inject, it } from 'vitest';
import { workflowInputProblems } from '../../src/domain/workflow-inputs.js';
import { workflowBundlerOptions } from '../../src/workflow-bundle.js';

/*
 * Each workflow evaluates again every module the workflow code imports; zod and the input schemas cost ~2.6 MiB of
 * heap per pipeline that way. They are bundled into one module the SDK preloads once (src/workflow-bundle.ts).
 * test/security/workflow-inputs.test.ts shows the check still refuses bad inputs inside the running workflows.
 */

it('the workflow bundle holds zod only inside the preloaded input check', () => {
  const code = inject('workflowBundleCode');
  const modules = [...code.matchAll(/^\/\*\*\*\/ "([^"]+)"/gm)].map((m) => m[1]!);
  expect(modules.length).toBeGreaterThan(50);
  expect(modules.filter((m) => m.includes('node_modules/zod/'))).toEqual([]);
  expect(modules.filter((m) => m.includes('domain/workflow-inputs'))).toEqual([]);
  const shared = modules.filter((m) => /dyff-temporal-workflows\/inputs-[0-9a-f]{16}\.cjs$/.test(m));
  expect(shared).toHaveLength(1);
  const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1];
  expect(preload).toContain(shared[0]);
});

it('the shared check exports one function, which finds what the source module finds', async () => {
  const { preloadModules, webpackConfigHook } = await workflowBundlerOptions();
  const alias = webpackConfigHook({}).resolve?.alias as Record<string, string>;
  const file = alias[preloadModules[0]!]!;
  const shared = createRequire(import.meta.url)(file) as {
    workflowInputProblems: typeof workflowInputProblems;
  };
  // The SDK deep-freezes a preloaded module's exports: a function, zod and the schemas out of its reach.
  expect(Object.keys(shared)).toEqual(['workflowInputProblems']);
  const spec = { source: { kind: 'url', url: 'http://127.0.0.1:9/data.csv' }, ingest: { format: 'csv' } };
  const inputs: unknown[] = [
    { id: '0123456789abcdef0123456789abcdef', account: 'public', spec },
    { id: '../../etc', account: 'public', spec: {} },
    { id: '0123456789abcdef0123456789abcdef', account: 'public', spec, extra: 1 },
    {
      id: '0123456789abcdef0123456789abcdef',
      account: '/etc',
      spec: { source: { kind: 'url', url: 'file:///x' } },
    },
    'not an object',
  ];
  const problems = inputs.map((i) => shared.workflowInputProblems('datasetWorkflow', i));
  expect(problems).toEqual(inputs.map((i) => workflowInputProblems('datasetWorkflow', i)));
  expect(problems[0]).toEqual([]);
  for (const p of problems.slice(1)) expect(p.length).toBeGreaterThan(0);
});
