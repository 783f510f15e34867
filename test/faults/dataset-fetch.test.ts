import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, DYFFCTL, until } from '../support/worker-process.js';
import { FAULTS, OUTAGE_MS, inject } from './support/faults.js';
import type { Fault } from './support/faults.js';
import { Harness, record } from './support/harness.js';
import { slowCsv } from './support/slow-csv.js';

/*
 * Issue #8's operator scenario, one per fault kind: a Dataset fetches a CSV from a slow loopback server through
 * `dyffctl create -f … --wait`; while the fetch job runs, the fault lands. The Dataset must end Ready with every
 * row exactly once, `dyffctl` must exit 0, each stage must have exactly one job that ran to completion, and
 * nothing may be left running.
 */
let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
  await h.startWorker();
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const ROWS = 60_000;

describe('faults during a Dataset fetch', { timeout: 300_000 }, () => {
  it.each(FAULTS)(
    '%s: Ready, one completed fetch job per try, dyffctl --wait exits 0',
    async (fault: Fault) => {
      // The download outlasts the fault (for an outage: until after the server is back), so it lands mid-fetch.
      const csv = await slowCsv(ROWS, fault === 'server-outage' ? OUTAGE_MS + 10_000 : 8_000);
      const file = join(h.config.dataHome, `${fault}.yaml`);
      await writeFile(
        file,
        `kind: Dataset\naccount: faults\nmetadata: { name: ${fault} }\nspec:\n  source: { kind: url, url: "${csv.url}" }\n  ingest: { format: csv }\n`,
      );
      const cli = spawn(process.execPath, [DYFFCTL, 'create', '-f', file, '--wait', '-o', 'json'], {
        env: cliEnv(h.config),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      cli.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));
      try {
        const fetchJob = await h.jobStarted('fetch-data', new Set((await h.jobs()).map((j) => j.name)));
        // The worker may start the job before dyffctl's first line (the created entity) reaches this process.
        const id = await until('dyffctl to print the created entity', async () =>
          stdout.includes('\n') ? (JSON.parse(stdout.split('\n')[0]!) as { id: string }) : undefined,
        );
        const started = Date.now();
        const { newTry } = await inject(h, fault, fetchJob);
        const code = await exited;
        const recoverSeconds = (Date.now() - started) / 1000;
        expect(code, `dyffctl stderr:\n${stderr}`).toBe(0);
        expect(stderr).not.toMatch(/\n\s+at /); // never a stack trace
        if (fault === 'server-outage') expect(stderr).toContain('Temporal unreachable, retrying');

        const view = await h.client.get(id.id);
        expect(view?.status, view?.message).toBe('Ready');
        expect(view?.details).toMatchObject({ rowCount: ROWS });
        const jobs = (await h.jobs()).filter((j) => j.entityId === id.id);
        const fetches = jobs.filter((j) => j.step === 'fetch-data');
        if (newTry) {
          // The killed step ended by a signal; a second try (a new job) completed the fetch.
          expect(fetches.map((j) => [j.name, j.exit])).toEqual([
            [fetchJob, 137],
            [fetchJob.replace(/-1$/, '-2'), 0],
          ]);
          expect(view?.details?.retries).toMatchObject([{ stage: 'fetch', try: 1, outcome: 'signal' }]);
        } else {
          // The running job was adopted: exactly one fetch job, and the source was read once.
          expect(fetches.map((j) => [j.name, j.exit])).toEqual([[fetchJob, 0]]);
          expect(csv.stats.requests).toBe(1);
        }
        expect(jobs.filter((j) => j.step === 'ingest-dataset').map((j) => j.exit)).toEqual([0]);
        expect(await h.leftRunning()).toEqual([]);
        await record({ fault, stage: 'fetch (Dataset, dyffctl --wait)', outcome: 'passed', recoverSeconds });
      } catch (err) {
        await record({
          fault,
          stage: 'fetch (Dataset, dyffctl --wait)',
          outcome: 'failed',
          note: String(err),
        });
        throw err;
      } finally {
        if (cli.exitCode === null) cli.kill('SIGKILL');
        await csv.close();
      }
    },
  );
});
