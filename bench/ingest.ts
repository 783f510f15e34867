/**
 * Ingest benchmark: the ingest-dataset step end to end (CSV in the object store → Parquet shards + manifest)
 * against a bare DuckDB `COPY (SELECT * FROM read_csv(…)) TO '….parquet'` on the same 1,000,000-row CSV.
 *
 * Each side is a process of its own, started the way it runs for real and timed from spawn to exit:
 * - the step through the launcher a worker running from dist/ gives its local runner (`bin/dyff-step.cjs`: the
 *   step bundle with its code cache), with the environment that runner gives it (the store's configuration, and no
 *   `NODE_EXTRA_CA_CERTS`: a step on a filesystem store that only reaches the store is started without it);
 * - the `COPY` in `bench/ingest-copy.cjs`, a plain Node process that loads DuckDB as the step's bundle does.
 * So both pay Node's start and DuckDB's load; the step also its own code. Each side's work alone, DuckDB loaded, is
 * printed beside it: the `COPY`'s from inside its process (instance, query, close), the step's from the log line it
 * writes with DuckDB loaded, before it opens its engine, to its last line.
 * The CSV is fetched into a fresh store by the fetch-data step first (not measured). CPU seconds (user + system,
 * the whole process) and peak RSS come from `bench/exit-usage.cjs`, preloaded into both. The last line is
 * key=value pairs.
 *
 *   npm run bench:ingest -- [--rows 1000000] [--repeat 5]
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { measured, NODE_FLAGS_HELP, REPO, stepArgs, stepEnv } from './step-process.js';
import { benchArgs, refuse } from './cli.js';

const here = dirname(fileURLToPath(import.meta.url));
const USAGE = `npm run bench:ingest -- [--rows 1000000] [--repeat 5]

The ingest-dataset step (a CSV in the object store -> Parquet shards and manifest) against a bare DuckDB COPY of
the same CSV to Parquet, each side a process of its own timed from spawn to exit. The last line holds every figure
as key=value. The goals: >= 0.8 x the COPY's rows/s, peak RSS <= 1.1 x the COPY's.

  --rows N     rows of the generated CSV (default 1000000)
  --repeat N   runs of each side; the medians are reported (default 5)

${NODE_FLAGS_HELP}`;
const values = benchArgs(USAGE, {
  rows: { type: 'string', default: '1000000' },
  repeat: { type: 'string', default: '5' },
});
const rows = Number(values.rows);
if (![rows, Number(values.repeat)].every((n) => Number.isInteger(n) && n > 0))
  refuse('--rows and --repeat: expected positive whole numbers', USAGE);
const csv = join(here, '.data', `ingest-${rows}.csv`);
const ID = '0123456789abcdef0123456789abcdef';

interface Measurement {
  /** Spawn to exit. */
  seconds: number;
  /** The work alone, without the process's start and its code's loading (see the top of this file). */
  workSeconds: number;
  cpuSeconds: number;
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

/** The environment the local runner gives step `program` over a filesystem store under `dir`. */
function stepEnvIn(program: string, dir: string): NodeJS.ProcessEnv {
  const config = loadConfig(
    { dataHome: join(dir, 'home'), sources: { localRoots: [dirname(csv)] } },
    { DYFF_CONFIG: join(dir, 'none.yaml') },
  );
  return stepEnv(program, config);
}

const step = (name: string, spec: unknown) => stepArgs(name, ['--id', ID, '--spec', JSON.stringify(spec)]);

/** The CSV into a fresh store, as fetch-data leaves it (not measured), then the ingest step alone. */
async function ingestSide(dir: string): Promise<Measurement> {
  await measured(
    step('fetch-data', { source: { kind: 'local', path: csv } }),
    stepEnvIn('fetch-data', dir),
    join(dir, 'fetch.json'),
  );
  // The step logs `ingest 1 csv file(s) …` once DuckDB is loaded, just before it opens its engine.
  let begun: number | undefined;
  let last = 0;
  const m = await measured(
    step('ingest-dataset', { ingest: { format: 'csv' } }),
    stepEnvIn('ingest-dataset', dir),
    join(dir, 'usage.json'),
    (line, at) => {
      if (line.startsWith('ingest ')) begun ??= at;
      last = at;
    },
  );
  if (begun === undefined) throw new Error('the ingest step did not log `ingest … file(s)`');
  return { ...m, workSeconds: last - begun };
}

async function duckdbSide(dir: string): Promise<Measurement> {
  let work = 0;
  // Started as the ingest step is (stepEnvironment leaves the CA file out of a step that opens no TLS connection).
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const m = await measured(
    [join(here, 'ingest-copy.cjs'), csv, join(dir, 'out.parquet')],
    env,
    join(dir, 'usage.json'),
    (line) => {
      if (line.startsWith('{')) work = (JSON.parse(line) as { workSeconds: number }).workSeconds;
    },
  );
  return { ...m, workSeconds: work };
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
      runs[kind].push(await (kind === 'ingest' ? ingestSide(dir) : duckdbSide(dir)));
      await rm(dir, { recursive: true, force: true });
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = (ms: Measurement[]) => ({
    seconds: median(ms.map((m) => m.seconds)),
    workSeconds: median(ms.map((m) => m.workSeconds)),
    cpuSeconds: median(ms.map((m) => m.cpuSeconds)),
    maxRssMiB: Math.max(...ms.map((m) => m.maxRssMiB)),
  });
  return { ingest: summary(runs.ingest), duckdb: summary(runs.duckdb) };
}

// The step must run the build of these sources, as a worker running from dist/ would start it.
execFileSync(process.execPath, [join(REPO, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });
await generateCsv();
const dir = await mkdtemp(join(tmpdir(), 'dyff-bench-'));
try {
  console.log(`csv: ${csv} (${rows} rows, ${(statSync(csv).size / 2 ** 20).toFixed(1)} MiB)`);
  const repeat = Number(values.repeat);
  const { duckdb: duck, ingest } = await measure(dir, repeat);
  const load = loadavg()[0]!.toFixed(2);
  console.log(`median of ${repeat} runs each, load average ${load} on ${cpus().length} CPUs`);
  const perSecond = (m: Measurement) => Math.round(rows / m.seconds);
  const line = (name: string, m: Measurement) =>
    console.log(
      `${name}: ${m.seconds.toFixed(2)} s spawn to exit (work ${m.workSeconds.toFixed(2)} s), ${m.cpuSeconds.toFixed(2)} s CPU, ${perSecond(m)} rows/s, peak RSS ${m.maxRssMiB.toFixed(0)} MiB`,
    );
  line('duckdb COPY', duck);
  line('ingest step', ingest);
  console.log(
    [
      `rows=${rows}`,
      `ingest_s=${ingest.seconds.toFixed(3)}`,
      `ingest_rows_per_s=${perSecond(ingest)}`,
      `duckdb_s=${duck.seconds.toFixed(3)}`,
      `duckdb_rows_per_s=${perSecond(duck)}`,
      `ratio=${(perSecond(ingest) / perSecond(duck)).toFixed(2)}`,
      `ingest_work_s=${ingest.workSeconds.toFixed(3)}`,
      `duckdb_work_s=${duck.workSeconds.toFixed(3)}`,
      `work_ratio=${(duck.workSeconds / ingest.workSeconds).toFixed(2)}`,
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
