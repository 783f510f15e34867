/**
 * Where the ingest time goes: DuckDB's own profiler (per-operator time, CPU time) on the raw `COPY` with its
 * default threads, the raw `COPY` on one thread, and the ingest step's write (`firstShardSql`, the query the
 * step runs, on the step's engine and, like the step, on one thread) over the CSV `bench:ingest` generates. Each case runs in a fresh child process. Last line key=value.
 *
 *   npx tsx bench/ingest-profile.ts [--rows 1000000]
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { IngestSpec } from '../src/domain/specs.js';
import { openEngine } from '../src/steps/ingest/duckdb.js';
import { readerSql } from '../src/steps/ingest/formats.js';
import { freeName, projection } from '../src/steps/ingest/projection.js';
import { firstShardSql } from '../src/steps/ingest/shards.js';

const CASES = ['raw', 'raw-1-thread', 'ingest-write'] as const;
type Case = (typeof CASES)[number];

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    child: { type: 'string' },
    dir: { type: 'string' },
  },
});
const csv = join(dirname(fileURLToPath(import.meta.url)), '.data', `ingest-${values.rows}.csv`);

interface Profile {
  seconds: number;
  duckdbCpuSeconds: number;
  operators: { name: string; seconds: number }[];
}

interface Node {
  operator_type?: string;
  operator_timing?: number;
  cpu_time?: number;
  latency?: number;
  children?: Node[];
}

async function profiled(connection: DuckDBConnection, dir: string, run: () => Promise<unknown>) {
  const out = join(dir, 'profile.json');
  await connection.run(`PRAGMA enable_profiling = 'json'; PRAGMA profiling_output = ${quotedString(out)}`);
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  await connection.run('PRAGMA disable_profiling');
  const root = JSON.parse(readFileSync(out, 'utf8')) as Node;
  const operators: Profile['operators'] = [];
  const walk = (n: Node) => {
    if (n.operator_type) operators.push({ name: n.operator_type, seconds: n.operator_timing ?? 0 });
    n.children?.forEach(walk);
  };
  walk(root);
  return { seconds, duckdbCpuSeconds: root.cpu_time ?? 0, operators };
}

async function child(kind: Case, dir: string): Promise<Profile> {
  if (kind === 'ingest-write') {
    const engine = await openEngine(dir);
    try {
      const relation = readerSql('csv', [csv]);
      const columns = (
        await engine.connection.runAndReadAll(`SELECT * FROM ${relation} LIMIT 0`)
      ).columnNames();
      const position = freeName('_position_', columns);
      const query = { relation, position, shard: '_shard_', shardRows: 1_000_000 };
      const select = projection(columns, IngestSpec.parse({ format: 'csv' }), position).join(', ');
      // A source of at most shardRows rows, as this one: the first shard's query is the whole write.
      await engine.connection.run('CREATE TEMP SEQUENCE rows_seen START 1');
      const sql = firstShardSql({ ...query, select }, join(dir, 'shard-0.parquet'), 'rows_seen');
      // On one thread, as writeShards runs it.
      await engine.connection.run('SET threads = 1');
      return await profiled(engine.connection, dir, () => engine.connection.run(sql));
    } finally {
      engine.close();
    }
  }
  const instance = await DuckDBInstance.create(':memory:', kind === 'raw-1-thread' ? { threads: '1' } : {});
  const connection = await instance.connect();
  try {
    const target = quotedString(join(dir, 'out.parquet'));
    return await profiled(connection, dir, () =>
      connection.run(`COPY (SELECT * FROM read_csv(${quotedString(csv)})) TO ${target} (FORMAT parquet)`),
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

if (values.child) {
  console.log(JSON.stringify(await child(values.child as Case, values.dir!)));
} else {
  if (!existsSync(csv))
    throw new Error(`${csv} is missing: run bench:ingest with --rows ${values.rows} first`);
  const me = fileURLToPath(import.meta.url);
  const results: Partial<Record<Case, Profile>> = {};
  for (const kind of CASES) {
    const dir = await mkdtemp(join(tmpdir(), 'dyff-profile-'));
    try {
      const args = ['--import', 'tsx', me, '--child', kind, '--dir', dir, '--rows', values.rows!];
      const out = execFileSync(process.execPath, args, { encoding: 'utf8' });
      results[kind] = JSON.parse(out.trim().split('\n').at(-1)!) as Profile;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const load = loadavg()[0]!.toFixed(2);
  for (const kind of CASES) {
    const p = results[kind]!;
    const ops = p.operators.map((o) => `${o.name} ${o.seconds.toFixed(3)} s`).join(', ');
    console.log(
      `${kind}: ${p.seconds.toFixed(3)} s wall, DuckDB CPU ${p.duckdbCpuSeconds.toFixed(3)} s; ${ops}`,
    );
  }
  const pairs = CASES.flatMap((kind) => {
    const p = results[kind]!;
    const key = kind.replaceAll('-', '_');
    return [`${key}_s=${p.seconds.toFixed(3)}`, `${key}_cpu_s=${p.duckdbCpuSeconds.toFixed(3)}`];
  });
  console.log([`rows=${values.rows}`, ...pairs, `load_avg=${load}`].join(' '));
}
