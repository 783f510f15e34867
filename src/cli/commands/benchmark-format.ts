import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DyffClient } from '../../client.js';
import type { BenchmarkView } from '../../domain/benchmark.js';

/** The report across corruptions as a path on this machine (filesystem store) or the store's URI. */
export function benchmarkPage(client: DyffClient, id: string): string {
  const dir = client.location('Report', id);
  return dir.startsWith('file:') ? join(fileURLToPath(dir), 'index.html') : `${dir}index.html`;
}

/** One line per cell, clean first: `brightness  3  Done  accuracy=0.8125  report <id>`. */
export function formatBenchmark(v: BenchmarkView): string {
  const lines = [`benchmark ${v.id}: ${v.status}${v.reason ? ` (${v.reason})` : ''}`];
  if (v.modelId) lines.push(`  model              ${v.modelId}`);
  if (v.inferenceServiceId) lines.push(`  inference service  ${v.inferenceServiceId}`);
  for (const c of v.cells) {
    const value = c.value != null ? `${v.metric}=${c.value.toFixed(4)}` : '';
    lines.push(
      `  ${c.corruption.padEnd(15)} ${String(c.severity).padEnd(2)} ${c.status.padEnd(10)} ${value.padEnd(18)} ${c.reportId && c.status === 'Done' ? `report ${c.reportId}` : (c.message ?? '')}`.trimEnd(),
    );
  }
  return lines.join('\n');
}
