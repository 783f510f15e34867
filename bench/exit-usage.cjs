// Preloaded (`node --require`) into each process bench/ingest.ts measures: on exit, writes the whole process's
// CPU time and peak RSS as JSON to $BENCH_USAGE_FILE, so that the launcher of a step needs no change to be measured.
'use strict';
const { writeFileSync } = require('node:fs');

const file = process.env.BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
    writeFileSync(file, JSON.stringify({ cpuSeconds, maxRssMiB: usage.maxRSS / 1024 }));
  });
}
