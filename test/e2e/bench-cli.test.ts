import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { groupAlive } from '../../src/adapters/process-group.js';
import { childrenOf } from '../support/process-tree.js';
import { until } from '../support/worker-process.js';
import { skipGcp } from '../support/gcp-emulators.js';

const REPO = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
/** Every `bench:*` script of package.json: name → the file it runs. */
const BENCHES = Object.entries(
  (JSON.parse(readFileSync(resolve(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts,
).flatMap(([name, script]) => {
  const file = /bench\/[\w-]+\.ts/.exec(script)?.[0];
  return name.startsWith('bench:') && file ? [[name, file] as const] : [];
});

interface Ran {
  code?: number;
  stdout: string;
  stderr: string;
}

/** The benchmark as its npm script runs it, without npm: `node --import tsx <file> ...args`. */
function bench(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return run(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    timeout: 60_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code?: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }),
  );
}

describe('the benchmarks’ command lines', { timeout: 180_000 }, () => {
  it('finds every benchmark script', () => {
    expect(BENCHES.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        'bench:lifecycle',
        'bench:inference',
        'bench:ingest',
        'bench:steps',
        'bench:stores',
      ]),
    );
  });

  // Before, four of them ran in full on --help (minutes of CPU, emulators and servers started) and three died on a
  // TypeError; an unknown flag went unnoticed or came out as a stack trace.
  it('--help prints the usage and starts nothing; an unknown flag is refused with the usage, exit 2', async () => {
    // Four at a time: each loads its benchmark's modules (the SDK, DuckDB's API) before it reads its flags.
    const results: { name: string; help: Ran; unknown: Ran }[] = [];
    const queue = [...BENCHES];
    const lane = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [name, file] = next;
        results.push({
          name,
          help: await bench(file, ['--help']),
          unknown: await bench(file, ['--no-such-flag']),
        });
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
    expect(results).toHaveLength(BENCHES.length);
    for (const { name, help, unknown } of results) {
      expect({ name, code: help.code, usage: help.stdout.split('\n')[0] }).toEqual({
        name,
        code: 0,
        usage: expect.stringMatching(new RegExp(`^npm run ${name}( |$)`)),
      });
      expect({ name, code: unknown.code }).toEqual({ name, code: 2 });
      expect(unknown.stderr).toContain("'--no-such-flag'");
      expect(unknown.stderr).toContain(`npm run ${name}`);
      expect(unknown.stdout).toBe('');
    }
  });

  it('a value it cannot use is refused with the flag named and the usage', async () => {
    const lifecycle = BENCHES.find(([name]) => name === 'bench:lifecycle')![1];
    const { code, stderr } = await bench(lifecycle, ['--phases', 'serial,nap']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^--phases: nap is not one of counts, serial, throughput, memory, real$/m);
    expect(stderr).toContain('npm run bench:lifecycle');
  });
});

describe.skipIf(skipGcp)('an interrupted benchmark', { timeout: 180_000 }, () => {
  // The emulators run in process groups of their own, so a SIGTERM to the benchmark alone used to leave them
  // running (reparented to init) after it exited.
  it('stops the emulators it started and exits 143 on SIGTERM', async () => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/stores.ts'], {
      cwd: REPO,
      env: { ...process.env, BENCH_ROUNDS: '1000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      await until('the first round', async () => stderr.includes('round 1/1000') || undefined, 120_000);
      // Each emulator leads a process group of its own (the Datastore emulator's shell script and its java).
      const groups = childrenOf(child.pid!).filter((c) =>
        /fake-gcs-server|cloud_datastore_emulator/.test(c.command),
      );
      expect(groups).toHaveLength(2);
      expect(groups.every((g) => groupAlive(g.pid))).toBe(true);
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(143);
      expect(stderr).toContain('SIGTERM: stopping 1 service(s) the benchmark started');
      expect(groups.filter((g) => groupAlive(g.pid))).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
