import { describe, expect, it } from 'vitest';
import { CREATE_TABLE } from '../../src/client-create.js';
import { createRow, requestIdOf } from '../../src/client-create-run.js';
import { DyffError } from '../../src/domain/errors.js';
import type { EntityKind } from '../../src/domain/kinds.js';
import { SPEC_HASH_LABEL } from '../../src/domain/labels.js';
import { parseManifest } from '../../src/domain/manifest.js';
import { workflowInputProblems } from '../../src/domain/workflow-inputs.js';
import type { WorkflowName } from '../../src/domain/workflow-inputs.js';
import { entityIdForRequest } from '../../src/request-id.js';
import { ENTITY_WORKFLOWS } from '../../src/workflows/definitions.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);

const MANIFESTS: Record<string, string> = {
  Dataset: `kind: Dataset
account: scripts
metadata: { name: mails, labels: { team: eval }, requestId: ds-1 }
spec: { source: { kind: local, path: data/mails }, ingest: { format: text-folders } }`,
  Model: `kind: Model
account: scripts
spec: { source: { kind: local, path: ./model } }`,
  InferenceService: `kind: InferenceService
account: scripts
spec: { model: ${A}, runner: { kind: standalone } }`,
  Evaluation: `kind: Evaluation
account: scripts
spec: { dataset: ${A}, inferenceService: ${B}, replications: 2 }`,
  Report: `kind: Report
account: scripts
spec: { evaluation: ${C}, rubric: classification.accuracy }`,
};

const ctx = { id: 'f'.repeat(32), baseDir: '/manifests' };

describe('the create table', () => {
  it.each(Object.keys(MANIFESTS))('%s: the input its workflow accepts, started as its kind', (kind) => {
    const manifest = parseManifest(MANIFESTS[kind]!, `${kind}.yaml`);
    const row = createRow(manifest.kind);
    expect(row.workflow.name).toBe(ENTITY_WORKFLOWS[kind as keyof typeof ENTITY_WORKFLOWS].name);
    const input = row.input(manifest, ctx);
    expect(input).toMatchObject({ id: ctx.id, account: 'scripts' });
    expect(workflowInputProblems(row.workflow.name as WorkflowName, input)).toEqual([]);
  });

  it('makes local paths absolute against the manifest directory and labels reusable resources by spec hash', () => {
    const dataset = createRow('Dataset').input(parseManifest(MANIFESTS.Dataset!), ctx);
    expect(dataset.spec).toMatchObject({ source: { kind: 'local', path: '/manifests/data/mails' } });
    expect(dataset.labels).toMatchObject({
      team: 'eval',
      [SPEC_HASH_LABEL]: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(dataset.name).toBe('mails');
    const model = createRow('Model').input(parseManifest(MANIFESTS.Model!), ctx);
    expect(model.spec).toMatchObject({ source: { path: '/manifests/model' } });
    expect(model.labels?.[SPEC_HASH_LABEL]).toMatch(/^[0-9a-f]{32}$/);
    // Elsewhere, the same path is another spec: another hash.
    const moved = createRow('Model').input(parseManifest(MANIFESTS.Model!), {
      ...ctx,
      baseDir: '/elsewhere',
    });
    expect(moved.labels?.[SPEC_HASH_LABEL]).not.toBe(model.labels?.[SPEC_HASH_LABEL]);
    // Services, evaluations and reports are not reused by pipelines: no hash label.
    const service = createRow('InferenceService').input(parseManifest(MANIFESTS.InferenceService!), ctx);
    expect(service.labels).toEqual({});
  });

  it('lists the spec fields that name other entities, with the kind each must be', () => {
    const refs = (kind: EntityKind) => {
      const m = parseManifest(MANIFESTS[kind]!);
      return createRow(kind).references(m.spec);
    };
    expect(refs('Dataset')).toEqual([]);
    expect(refs('InferenceService')).toEqual([{ field: 'spec.model', kind: 'Model', id: A }]);
    expect(refs('Evaluation')).toEqual([
      { field: 'spec.dataset', kind: 'Dataset', id: A },
      { field: 'spec.inferenceService', kind: 'InferenceService', id: B },
    ]);
    expect(refs('Report')).toEqual([{ field: 'spec.evaluation', kind: 'Evaluation', id: C }]);
  });

  it('refuses a kind without a row, naming the kinds that have one', () => {
    expect(() => createRow('DataSource')).toThrow(
      /kind DataSource: cannot be created by itself \(these can: Dataset, Model/,
    );
    expect(Object.keys(CREATE_TABLE)).toEqual(expect.arrayContaining(Object.keys(MANIFESTS)));
  });
});

describe('request ids', () => {
  it('map account, kind and request id to one entity id, deterministically', () => {
    const id = entityIdForRequest('scripts', 'Dataset', 'ds-1');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(entityIdForRequest('scripts', 'Dataset', 'ds-1')).toBe(id);
    expect(entityIdForRequest('other', 'Dataset', 'ds-1')).not.toBe(id);
    expect(entityIdForRequest('scripts', 'Model', 'ds-1')).not.toBe(id);
    expect(entityIdForRequest('scripts', 'Dataset', 'ds-2')).not.toBe(id);
  });

  it('come from metadata.requestId or the option; the two must agree', () => {
    const m = parseManifest(MANIFESTS.Dataset!);
    expect(m.metadata.requestId).toBe('ds-1');
    expect(requestIdOf(m, undefined)).toBe('ds-1');
    expect(requestIdOf(m, 'ds-1')).toBe('ds-1');
    expect(() => requestIdOf(m, 'ds-2')).toThrow(
      /request id "ds-2" differs from the manifest's metadata.requestId "ds-1"/,
    );
    const bare = parseManifest(MANIFESTS.Model!);
    expect(bare.metadata).not.toHaveProperty('requestId');
    expect(requestIdOf(bare, undefined)).toBeUndefined();
    expect(requestIdOf(bare, 'm-1')).toBe('m-1');
    expect(() => requestIdOf(bare, 'has space')).toThrow(DyffError);
    expect(() => requestIdOf(bare, '')).toThrow(/request id:/);
  });

  it('in a manifest are checked: printable, no spaces, bounded', () => {
    const text = (id: string) =>
      MANIFESTS.Model!.replace('account: scripts', `account: scripts\nmetadata: { requestId: "${id}" }`);
    expect(parseManifest(text('run-42/model')).metadata.requestId).toBe('run-42/model');
    expect(() => parseManifest(text('two words'), 'm.yaml')).toThrow(
      /m\.yaml: invalid manifest\n {2}metadata\.requestId: expected printable ASCII/,
    );
    expect(() => parseManifest(text('x'.repeat(257)), 'm.yaml')).toThrow(/metadata\.requestId/);
  });
});
