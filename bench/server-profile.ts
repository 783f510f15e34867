/**
 * Where the Temporal server's time goes during a batch of runs: its own Prometheus metrics (`/metrics`: time in
 * persistence by operation, history task processing by task type, and API handling by method) and its process's
 * CPU time, read before and after the batch; the difference per run. Measured the same way for ours and for the
 * skeleton, so that the lines say which operations our runs add.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The metric families read: a histogram's `_sum` (seconds) and `_count`, by the label that names the operation. */
const FAMILIES = {
  persistence: 'persistence_latency',
  'history task': 'task_latency_processing',
  api: 'service_latency',
} as const;
type Family = keyof typeof FAMILIES;

export interface ServerSample {
  /** `family|operation` → [seconds, calls], summed over the other labels. */
  ops: Map<string, [number, number]>;
  /** The server process's CPU time (user + system), seconds. */
  cpuSeconds: number;
}

/** The pid of the dev server started with `--metrics-port <port>` (its command line names the port). */
export function serverPid(metricsPort: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = args.indexOf('--metrics-port');
    if (i >= 0 && args[i + 1] === String(metricsPort)) return Number(entry);
  }
  throw new Error(`no process started with --metrics-port ${metricsPort}`);
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After the command's closing parenthesis: state is field 3, utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

export async function sampleServer(metricsPort: number, pid: number): Promise<ServerSample> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const ops = new Map<string, [number, number]>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)_(sum|count)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const family = (Object.keys(FAMILIES) as Family[]).find((f) => FAMILIES[f] === m[1]);
    if (!family) continue;
    const labels = Object.fromEntries([...m[3]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const op = family === 'history task' ? labels.task_type : labels.operation;
    if (!op) continue;
    const key = `${family}|${op}`;
    const v = ops.get(key) ?? [0, 0];
    v[m[2] === 'sum' ? 0 : 1] += Number(m[4]);
    ops.set(key, v);
  }
  return { ops, cpuSeconds: cpuSeconds(pid) };
}

export interface BatchProfile {
  runs: number;
  /** Server CPU ms per run. */
  cpuMs: number;
  /** `family|operation` → [ms, calls] per run. */
  ops: Map<string, [number, number]>;
}

export function profileOf(before: ServerSample, after: ServerSample, runs: number): BatchProfile {
  const ops = new Map<string, [number, number]>();
  for (const [k, [s, c]] of after.ops) {
    const [s0, c0] = before.ops.get(k) ?? [0, 0];
    if (c > c0) ops.set(k, [((s - s0) * 1000) / runs, (c - c0) / runs]);
  }
  return { runs, cpuMs: ((after.cpuSeconds - before.cpuSeconds) * 1000) / runs, ops };
}

/** Two batches' profiles as one: each figure per run over both batches' runs. */
export function mergedProfile(a: BatchProfile, b: BatchProfile): BatchProfile {
  const runs = a.runs + b.runs;
  const per = (x: number, y: number) => (x * a.runs + y * b.runs) / runs;
  const ops = new Map<string, [number, number]>();
  for (const k of new Set([...a.ops.keys(), ...b.ops.keys()])) {
    const [ams, acalls] = a.ops.get(k) ?? [0, 0];
    const [bms, bcalls] = b.ops.get(k) ?? [0, 0];
    ops.set(k, [per(ams, bms), per(acalls, bcalls)]);
  }
  return { runs, cpuMs: per(a.cpuMs, b.cpuMs), ops };
}

/** Per family, the operations ours spends most time in, each beside the skeleton's. */
export function profileLines(ours: BatchProfile, skeleton: BatchProfile, top = 8): string[] {
  const f = (x: number) => x.toFixed(1);
  const lines = [
    `server CPU per pipeline: ours ${f(ours.cpuMs)} ms, the skeleton's ${f(skeleton.cpuMs)} ms (${(ours.cpuMs / skeleton.cpuMs).toFixed(2)} ×)`,
  ];
  for (const family of Object.keys(FAMILIES) as Family[]) {
    // API time is mostly long polls waiting for work: those by calls, the rest by time.
    const by = family === 'api' ? 1 : 0;
    const rows = [...ours.ops]
      .filter(([k]) => k.startsWith(`${family}|`))
      .sort((a, b) => b[1][by] - a[1][by])
      .slice(0, process.env.BENCH_PROFILE_ALL ? undefined : top)
      .map(([k, [ms, calls]]) => {
        const [sms, scalls] = skeleton.ops.get(k) ?? [0, 0];
        return `    ${k.split('|')[1]}: ${f(calls)} calls ${f(ms)} ms (skeleton ${f(scalls)} calls ${f(sms)} ms)`;
      });
    lines.push(`  ${family}, per pipeline, ${by ? 'most calls' : 'most time'} first:`, ...rows);
  }
  return lines;
}
