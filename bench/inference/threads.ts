import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of this process by thread (Linux /proc), to say which threads a run's CPU went to: `main`, those named
 * in `labels` (by thread id), the rest by their names (V8's GC helpers, libuv's pool, DuckDB's threads are all
 * `node`). Threads that ended during a run (DuckDB's, when an engine closes) are missing. Empty elsewhere.
 */
export function threadCpu(labels: ReadonlyMap<string, string> = new Map()): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, in clock ticks (USER_HZ, 100 a second on Linux).
      const ticks = Number(fields[11]) + Number(fields[12]);
      const key = tid === String(process.pid) ? 'main' : (labels.get(tid) ?? name.trim());
      out.set(key, (out.get(key) ?? 0) + ticks * 10);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Milliseconds of CPU per thread name between two `threadCpu()` readings, largest first, as `name=ms` pairs. */
export function threadCpuDelta(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([name, ms]) => [name, ms - (before.get(name) ?? 0)] as const)
    .filter(([, ms]) => ms > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name.replace(/\s+/g, '_')}=${ms}`)
    .join(' ');
}

/** The ids of this process's threads now (Linux), e.g. to tell which ones a new worker thread added. */
export function threadIds(): Set<string> {
  try {
    return new Set(readdirSync('/proc/self/task'));
  } catch {
    return new Set();
  }
}
