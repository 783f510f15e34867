import { describe, expect, it } from 'vitest';
import * as definitions from '../../src/workflows/definitions.js';
import * as workflows from '../../src/workflows/index.js';

describe('workflow definitions shared by clients and workflows', () => {
  // The definitions are the exports named like `PipelineWorkflow`.
  const defined = Object.entries(definitions).filter(([k]) => /^[A-Z]\w*Workflow$/.test(k)) as [
    string,
    { name: string },
  ][];

  it('name every workflow the worker registers, each by its function', () => {
    const registered = Object.entries(workflows)
      .filter(([, v]) => typeof v === 'function')
      .map(([k]) => k);
    const names = defined.map(([, d]) => d.name);
    expect(names.sort()).toEqual(registered.sort());
    for (const name of names) expect((workflows as Record<string, unknown>)[name]).toBeTypeOf('function');
  });

  it('give each entity kind the workflow whose id prefix is the kind', () => {
    for (const [kind, def] of Object.entries(definitions.ENTITY_WORKFLOWS))
      expect(def.name.toLowerCase()).toBe(`${kind.toLowerCase()}workflow`);
  });

  it('share the queries and updates the workflows register', () => {
    expect(definitions.pipelineQuery).toBe(workflows.pipelineQuery);
    expect(definitions.statusQuery.name).toBe('status');
    expect(definitions.recheckDependencyUpdate.name).toBe('recheckDependency');
  });
});
