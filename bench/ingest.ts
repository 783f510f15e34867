/**
 * Ingest benchmark: the ingest-dataset step end to end (CSV in the object store → Parquet shards + manifest)
 * against a bare DuckDB `COPY (SELECT * FROM read_csv(…)) TO '….parquet'` on the same 1,000,000-row CSV.
 * Each side runs in its own child process, so each peak RSS is its own: the CSV is fetched into the store by a
 * process of its own first, and the ingest child runs the step alone. CPU seconds (user + system) are reported
 * beside wall time: on a shared machine they move less with the load. The last line is key=value pairs.
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
  cpuSeconds: number;
  maxRssMiB: number;
}

const cpuNow = () => {
  const usage = process.resourceUsage();
  return (usage.userCPUTime + usage.systemCPUTime) / 1e6;
};

/** Time and CPU since `start()`; peak RSS over the whole child (what the machine must have). */
function start(): () => Measurement {
  const [wall, cpu] = [performance.now(), cpuNow()];
  return () => ({
    seconds: (performance.now() - wall) / 1000,
    cpuSeconds: cpuNow() - cpu,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  });
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

function stepDeps(dir: string) {
  const objectStore = new FilesystemObjectStore({ root: join(dir, 'store') });
  const config = loadConfig({ dataHome: join(dir, 'home') }, { DYFF_CONFIG: join(dir, 'none.yaml') });
  return { objectStore, config, write: () => {} };
}

/** Child: the CSV into a fresh store, as fetch-data leaves it (not measured). */
async function fetchChild(dir: string): Promise<Measurement> {
  const done = start();
  const spec = { source: { kind: 'local', path: csv } };
  const code = await runStepProgram(
    'fetch-data',
    ['--id', ID, '--spec', JSON.stringify(spec)],
    stepDeps(dir),
  );
  if (code !== 0) throw new Error(`fetch-data exited ${code}`);
  return done();
}

/** Child: the ingest step alone, over the store fetchChild filled. */
async function ingestChild(dir: string): Promise<Measurement> {
  const done = start();
  const spec = { ingest: { format: 'csv' } };
  const code = await runStepProgram(
    'ingest-dataset',
    ['--id', ID, '--spec', JSON.stringify(spec)],
    stepDeps(dir),
  );
  if (code !== 0) throw new Error(`ingest-dataset exited ${code}`);
  return done();
}

async function duckdbChild(dir: string): Promise<Measurement> {
  const done = start();
  const instance = await DuckDBInstance.create();
  const connection = await instance.connect();
  await connection.run(
    `COPY (SELECT * FROM read_csv(${quotedString(csv)})) TO ${quotedString(join(dir, 'out.parquet'))} (FORMAT parquet)`,
  );
  connection.closeSync();
  instance.closeSync();
  return done();
}

function inChild(kind: 'fetch' | 'ingest' | 'duckdb', dir: string): Measurement {
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
      if (kind === 'ingest') inChild('fetch', dir);
      runs[kind].push(inChild(kind, dir));
      await rm(dir, { recursive: true, force: true });
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = (ms: Measurement[]) => ({
    seconds: median(ms.map((m) => m.seconds)),
    cpuSeconds: median(ms.map((m) => m.cpuSeconds)),
    maxRssMiB: Math.max(...ms.map((m) => m.maxRssMiB)),
  });
  return { ingest: summary(runs.ingest), duckdb: summary(runs.duckdb) };
}

if (values.child) {
  const child = { fetch: fetchChild, ingest: ingestChild, duckdb: duckdbChild }[values.child];
  if (child === undefined) throw new Error(`unknown --child ${values.child}`);
  const result = await child(values.dir!);
  console.log(JSON.stringify(result));
} else {
  await generateCsv();
  const dir = await mkdtemp(join(tmpdir(), 'dyff-bench-'));
  try {
    console.log(`csv: ${csv} (${rows} rows, ${(statSync(csv).size / 2 ** 20).toFixed(1)} MiB)`);
    const repeat = Number(values.repeat);
    const { duckdb: duck, ingest } = await measure(dir, repeat);
    const load = loadavg()[0]!.toFixed(2);
    console.log(`median of ${repeat} runs each, load average ${load} on ${cpus().length} CPUs`);
    const perSecond = (m: Measurement) => Math.round(rows / m.seconds);
    console.log(
      `duckdb COPY: ${duck.seconds.toFixed(2)} s (${duck.cpuSeconds.toFixed(2)} s CPU), ${perSecond(duck)} rows/s, peak RSS ${duck.maxRssMiB.toFixed(0)} MiB`,
    );
    console.log(
      `ingest step: ${ingest.seconds.toFixed(2)} s (${ingest.cpuSeconds.toFixed(2)} s CPU), ${perSecond(ingest)} rows/s, peak RSS ${ingest.maxRssMiB.toFixed(0)} MiB`,
    );
    console.log(
      [
        `rows=${rows}`,
        `ingest_s=${ingest.seconds.toFixed(3)}`,
        `ingest_rows_per_s=${perSecond(ingest)}`,
        `duckdb_s=${duck.seconds.toFixed(3)}`,
        `duckdb_rows_per_s=${perSecond(duck)}`,
        `ratio=${(perSecond(ingest) / perSecond(duck)).toFixed(2)}`,
        `ingest_cpu_s=${ingest.cpuSeconds.toFixed(3)}`,
        `duckdb_cpu_s=${duck.cpuSeconds.toFixed(3)}`,
        `peak_rss_mib=${ingest.maxRssMiB.toFixed(0)}`,
        `duckdb_peak_rss_mib=${duck.maxRssMiB.toFixed(0)}`,
        `rss_ratio=${(ingest.maxRssMiB / duck.maxRssMiB).toFixed(2)}`,
        `load_avg=${load}`,
      ].join(' '),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
