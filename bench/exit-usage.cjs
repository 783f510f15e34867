// Preloaded (`node --require`) into each process bench/ingest.ts and bench/inference.ts measure: on exit, writes the
// whole process's CPU time and peak RSS as JSON to $BENCH_USAGE_FILE, so that the launcher of a step needs no change
// to be measured; on Linux also the main thread's CPU time alone (the rest went to V8's, libuv's and DuckDB's threads).
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');

/** The main thread's CPU seconds (Linux /proc: utime and stime in clock ticks, 100 a second), or null. */
function mainThreadCpu() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

const file = process.env.BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
    writeFileSync(
      file,
      JSON.stringify({ cpuSeconds, mainCpuSeconds: mainThreadCpu(), maxRssMiB: usage.maxRSS / 1024 }),
    );
  });
}
