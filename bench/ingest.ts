/**
 * Ingest benchmark: the ingest-dataset step end to end (CSV in the object store → Parquet shards + manifest)
 * against a bare DuckDB `COPY (SELECT * FROM read_csv(…)) TO '….parquet'` on the same 1,000,000-row CSV.
 * Each side runs in its own child process, so each peak RSS is its own. The last line is key=value pairs.
 *
 *   npx tsx bench/ingest.ts [--rows 1000000] [--repeat 3]
 */
import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FilesystemObjectStore } from '../src/adapters/object-store/filesystem.js';
import { loadConfig } from '../src/config.js';
import { runStepProgram } from '../src/steps/run.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    /** Runs of each side; the median time is reported (the machine may be shared). */
    repeat: { type: 'string', default: '3' },
    child: { type: 'string' },
    dir: { type: 'string' },
  },
});
const rows = Number(values.rows);
const csv = join(here, '.data', `ingest-${rows}.csv`);
const ID = '0123456789abcdef0123456789abcdef';

interface Measurement {
  seconds: number;
  maxRssMiB: number;
}

/** int, float and text columns from a fixed-seed generator: the same file on every machine. */
async function generateCsv(): Promise<void> {
  if (existsSync(csv) && statSync(csv).size > 0) return;
  await mkdir(dirname(csv), { recursive: true });
  const out = createWriteStream(csv);
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
  out.write('id,value,label,comment\n');
  for (let start = 0; start < rows; start += 10_000) {
    let chunk = '';
    for (let i = start; i < Math.min(rows, start + 10_000); i++) {
      const text = `${words[next() % 8]} ${words[next() % 8]} ${next() % 100000}`;
      chunk += `${i},${(next() / 2 ** 31).toFixed(6)},${words[next() % 8]},"${text}"\n`;
    }
    if (!out.write(chunk)) await once(out, 'drain');
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

/** Child: fetch the CSV into a fresh store (not timed), then time the ingest step alone. */
async function ingestChild(dir: string): Promise<Measurement> {
  const objectStore = new FilesystemObjectStore({ root: join(dir, 'store') });
  const config = loadConfig({ dataHome: join(dir, 'home') }, { DYFF_CONFIG: join(dir, 'none.yaml') });
  const deps = { objectStore, config, write: () => {} };
  const fetched = await runStepProgram(
    'fetch-data',
    ['--id', ID, '--spec', JSON.stringify({ source: { kind: 'local', path: csv } })],
    deps,
  );
  if (fetched !== 0) throw new Error(`fetch-data exited ${fetched}`);
  const started = performance.now();
  const code = await runStepProgram(
    'ingest-dataset',
    ['--id', ID, '--spec', JSON.stringify({ ingest: { format: 'csv' } })],
    deps,
  );
  if (code !== 0) throw new Error(`ingest-dataset exited ${code}`);
  return { seconds: (performance.now() - started) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
}

async function duckdbChild(dir: string): Promise<Measurement> {
  const started = performance.now();
  const instance = await DuckDBInstance.create();
  const connection = await instance.connect();
  await connection.run(
    `COPY (SELECT * FROM read_csv(${quotedString(csv)})) TO ${quotedString(join(dir, 'out.parquet'))} (FORMAT parquet)`,
  );
  connection.closeSync();
  instance.closeSync();
  return { seconds: (performance.now() - started) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
}

function inChild(kind: 'ingest' | 'duckdb', dir: string): Measurement {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      kind,
      '--dir',
      dir,
      '--rows',
      String(rows),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as Measurement;
}

/**
 * Median time and highest peak RSS over `repeat` fresh child processes per side, each in its own scratch dir.
 * The sides alternate, so a burst of load from elsewhere on the machine hits both alike.
 */
async function measure(root: string, repeat: number): Promise<Record<'ingest' | 'duckdb', Measurement>> {
  const runs = { ingest: [] as Measurement[], duckdb: [] as Measurement[] };
  for (let i = 0; i < repeat; i++) {
    for (const kind of ['duckdb', 'ingest'] as const) {
      const dir = join(root, `${kind}-${i}`);
      await mkdir(dir);
      runs[kind].push(inChild(kind, dir));
      await rm(dir, { recursive: true, force: true });
    }
  }
  const summary = (ms: Measurement[]) => ({
    seconds: ms.map((m) => m.seconds).sort((a, b) => a - b)[Math.floor(ms.length / 2)]!,
    maxRssMiB: Math.max(...ms.map((m) => m.maxRssMiB)),
  });
  return { ingest: summary(runs.ingest), duckdb: summary(runs.duckdb) };
}

if (values.child) {
  const result = values.child === 'ingest' ? await ingestChild(values.dir!) : await duckdbChild(values.dir!);
  console.log(JSON.stringify(result));
} else {
  await generateCsv();
  const dir = await mkdtemp(join(tmpdir(), 'dyff-bench-'));
  try {
    console.log(`csv: ${csv} (${rows} rows, ${(statSync(csv).size / 2 ** 20).toFixed(1)} MiB)`);
    const repeat = Number(values.repeat);
    const { duckdb: duck, ingest } = await measure(dir, repeat);
    console.log(
      `median of ${repeat} runs each, load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs`,
    );
    const perSecond = (m: Measurement) => Math.round(rows / m.seconds);
    console.log(
      `duckdb COPY: ${duck.seconds.toFixed(2)} s, ${perSecond(duck)} rows/s, peak RSS ${duck.maxRssMiB.toFixed(0)} MiB`,
    );
    console.log(
      `ingest step: ${ingest.seconds.toFixed(2)} s, ${perSecond(ingest)} rows/s, peak RSS ${ingest.maxRssMiB.toFixed(0)} MiB`,
    );
    console.log(
      [
        `rows=${rows}`,
        `ingest_s=${ingest.seconds.toFixed(3)}`,
        `ingest_rows_per_s=${perSecond(ingest)}`,
        `duckdb_s=${duck.seconds.toFixed(3)}`,
        `duckdb_rows_per_s=${perSecond(duck)}`,
        `ratio=${(perSecond(ingest) / perSecond(duck)).toFixed(2)}`,
        `peak_rss_mib=${ingest.maxRssMiB.toFixed(0)}`,
        `duckdb_peak_rss_mib=${duck.maxRssMiB.toFixed(0)}`,
      ].join(' '),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
