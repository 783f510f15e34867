#!/usr/bin/env node
// `npm run faults`: the whole fault-injection matrix (test/faults, DYFF_FAULTS=full), then a table of
// fault × stage → outcome and time to recover. The last line is `scenarios=N passed=N`; the exit code is vitest's.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const results = join(tmpdir(), `dyff-faults-${process.pid}.jsonl`);
rmSync(results, { force: true });
const run = spawnSync(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', '--config', 'vitest.faults.config.ts', ...process.argv.slice(2)],
  { stdio: 'inherit', env: { ...process.env, DYFF_FAULTS: 'full', DYFF_FAULTS_RESULTS: results } },
);
const rows = existsSync(results)
  ? readFileSync(results, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
const header = ['fault', 'stage', 'outcome', 'recovered in'];
const cells = rows.map((r) => [
  r.fault,
  r.stage,
  r.outcome,
  r.recoverSeconds === undefined ? '-' : `${r.recoverSeconds.toFixed(1)} s`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
const line = (c) => `| ${c.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
console.log(`\n${line(header)}\n| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
for (const c of cells) console.log(line(c));
const passed = rows.filter((r) => r.outcome === 'passed').length;
console.log(`scenarios=${rows.length} passed=${passed}`);
rmSync(results, { force: true });
process.exit(run.status ?? 1);
