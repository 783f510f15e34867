import { BenchmarkSpec } from './benchmark.js';
import { parseRunManifest } from './manifest.js';

/** A `kind: Benchmark` manifest: a pipeline's spec plus the corruptions × severities to evaluate on. */
export const parseBenchmarkManifest = (text: string, source = 'manifest') =>
  parseRunManifest(text, source, 'Benchmark', BenchmarkSpec);
