import { BenchmarkSpec } from './benchmark.js';
import { DyffError, ErrorType } from './errors.js';
import type { Manifest } from './manifest.js';
import { formatIssues, parseYamlDocument } from './manifest.js';
import { ManifestHeader } from './specs.js';

/** A `kind: Benchmark` manifest: a pipeline's spec plus the corruptions × severities to evaluate on. */
export function parseBenchmarkManifest(
  text: string,
  source = 'manifest',
): Manifest<BenchmarkSpec, 'Benchmark'> {
  const doc = parseYamlDocument(text, source) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object' || doc.kind !== 'Benchmark') {
    throw new DyffError(ErrorType.InvalidSpec, `${source}: kind: expected Benchmark`);
  }
  const head = ManifestHeader.omit({ kind: true }).safeParse(doc);
  if (!head.success) throw new DyffError(ErrorType.InvalidSpec, formatIssues(head.error.issues, [], source));
  const spec = BenchmarkSpec.safeParse(doc.spec);
  if (!spec.success)
    throw new DyffError(ErrorType.InvalidSpec, formatIssues(spec.error.issues, ['spec'], source));
  const { account, metadata } = head.data;
  if (metadata?.requestId !== undefined) {
    throw new DyffError(
      ErrorType.InvalidSpec,
      `${source}: invalid manifest\n  metadata.requestId: not supported for kind Benchmark (only for the entity kinds)`,
    );
  }
  return {
    kind: 'Benchmark',
    account,
    metadata: {
      name: metadata?.name,
      labels: metadata?.labels ?? {},
      annotations: metadata?.annotations ?? {},
    },
    spec: spec.data,
  };
}
