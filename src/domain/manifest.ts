import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { DyffError, ErrorType } from './errors.js';
import type { EntityKind } from './kinds.js';
import { PipelineSpec } from './pipeline.js';
import { ManifestHeader, SPEC_OF_KIND } from './specs.js';

/** A validated manifest: what `dyffctl create -f` submits. */
export interface Manifest<S = unknown, K extends string = EntityKind> {
  kind: K;
  account: string;
  metadata: {
    name?: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    /** Creates with the same request id (per account and kind) make one entity. */
    requestId?: string;
  };
  spec: S;
}

/**
 * The issues as `path: message` lines. With the document, a value refused because it is still a placeholder
 * (`${EVALUATION_ID}`: the shipped examples name the entities they depend on so, for
 * `examples/create-each-kind.ts` or `--set` to fill in) is said to be one, not a malformed value.
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: PropertyKey[],
  source: string,
  doc?: unknown,
): string {
  const lines = issues.map((i) => {
    const at = [...prefix, ...i.path];
    const path = at.map(String).join('.') || '(root)';
    const value = at.reduce<unknown>(
      (node, k) => (node as Record<PropertyKey, unknown> | undefined)?.[k],
      doc,
    );
    if (typeof value === 'string' && /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value))
      return `${path}: ${value} is a placeholder to fill in (dyffctl: --set ${path}=<value>)`;
    return `${path}: ${i.message}`;
  });
  return `${source}: invalid manifest\n  ${lines.join('\n  ')}`;
}

/** Validate a parsed object as a manifest; errors name the path (`spec.source.url: expected http(s) URL`). */
export function validateManifest(doc: unknown, source = 'manifest'): Manifest {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new DyffError(ErrorType.InvalidSpec, `${source}: expected a mapping with kind, account and spec`);
  }
  const head = ManifestHeader.safeParse(doc);
  if (!head.success)
    throw new DyffError(ErrorType.InvalidSpec, formatIssues(head.error.issues, [], source, doc));
  const { kind, account, metadata } = head.data;
  if (head.data.spec === undefined) {
    throw new DyffError(ErrorType.InvalidSpec, `${source}: invalid manifest\n  spec: required`);
  }
  const spec = SPEC_OF_KIND[kind].safeParse(head.data.spec);
  if (!spec.success)
    throw new DyffError(ErrorType.InvalidSpec, formatIssues(spec.error.issues, ['spec'], source, doc));
  return {
    kind,
    account,
    metadata: {
      name: metadata?.name,
      labels: metadata?.labels ?? {},
      annotations: metadata?.annotations ?? {},
      ...(metadata?.requestId ? { requestId: metadata.requestId } : {}),
    },
    spec: spec.data,
  };
}

export function parseYamlDocument(text: string, source: string): unknown {
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new DyffError(ErrorType.InvalidSpec, `${source}: not valid YAML: ${(err as Error).message}`);
  }
}

/** A `kind: Pipeline` manifest: the whole lifecycle in one spec. */
export const parsePipelineManifest = (text: string, source = 'manifest') =>
  parseRunManifest(text, source, 'Pipeline', PipelineSpec);

/**
 * The manifest of a run that is not an entity (Pipeline, Benchmark): the header without `requestId`, and the spec
 * of `kind` validated by `schema`.
 */
export function parseRunManifest<K extends string, T extends z.ZodType>(
  text: string,
  source: string,
  kind: K,
  schema: T,
): Manifest<z.output<T>, K> {
  const doc = parseYamlDocument(text, source) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object' || doc.kind !== kind) {
    throw new DyffError(ErrorType.InvalidSpec, `${source}: kind: expected ${kind}`);
  }
  const head = ManifestHeader.omit({ kind: true }).safeParse(doc);
  if (!head.success) throw new DyffError(ErrorType.InvalidSpec, formatIssues(head.error.issues, [], source));
  const spec = schema.safeParse(doc.spec);
  if (!spec.success)
    throw new DyffError(ErrorType.InvalidSpec, formatIssues(spec.error.issues, ['spec'], source, doc));
  const { account, metadata } = head.data;
  if (metadata?.requestId !== undefined) {
    // Taken silently, it would promise an idempotency a run of this kind does not have.
    throw new DyffError(
      ErrorType.InvalidSpec,
      `${source}: invalid manifest\n  metadata.requestId: not supported for kind ${kind} (only for the entity kinds)`,
    );
  }
  return {
    kind,
    account,
    metadata: {
      name: metadata?.name,
      labels: metadata?.labels ?? {},
      annotations: metadata?.annotations ?? {},
    },
    spec: spec.data,
  };
}

/** Parse YAML text (one document) into a validated manifest. */
export function parseManifest(text: string, source = 'manifest'): Manifest {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new DyffError(ErrorType.InvalidSpec, `${source}: not valid YAML: ${(err as Error).message}`);
  }
  return validateManifest(doc, source);
}
