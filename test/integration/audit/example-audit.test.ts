import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipelines } from '../../../src/client-pipelines.js';
import { DyffClient } from '../../../src/client.js';
import type { Config } from '../../../src/config.js';
import { parsePipelineManifest } from '../../../src/domain/manifest.js';
import type { RunningWorker } from '../../support/temporal.js';
import { startWorker, testConfig } from '../../support/temporal.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';
import { startBrowser } from '../steps/helpers/browser.js';
import { chromiumPresent } from '../steps/helpers/chromium.js';
import { cliEnv, run, until } from '../../support/worker-process.js';
import { EXAMPLES, SPAM_ROBUSTNESS, startAudit, treeSha256 } from './audit-support.js';

/*
 * The example audit on the embedded default: the demo model (naive Bayes over the tiny corpus) made by a real
 * pipeline, then examples/procedures/spam-robustness run against its service by a real worker, local steps and a
 * real session, with every object-store call held to the catalogue's grants. The report is opened in Chromium.
 */
let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let client: DyffClient;
let targets: { inferenceService: string; evaluation: string };
const hasChromium = await chromiumPresent();
/** The audits the pipeline listed after its report. */
let pipelineAudits: { id?: string; status: string }[] = [];

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  config = { ...config, storage: { enforceGrants: true, withholdGrants: [] } };
  const corpus = await tinyCorpus(join(config.dataHome, 'tiny'));
  worker = await startWorker(config);
  client = await DyffClient.connect(config, worker.adapters);
  const pipelines = new Pipelines(client.temporal, config.temporal.taskQueue);
  const manifest = parsePipelineManifest(`
kind: Pipeline
account: audit
metadata: { name: audited }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone } }
  evaluation: { split: test }
  report: { rubric: classification.accuracy }
  audits:
    - procedure: { kind: local, path: procedures/spam-robustness }
      parameters: { split: test, maxMails: 6 }
`);
  const view = await pipelines.wait((await pipelines.start(manifest, { baseDir: EXAMPLES })).id);
  expect(view.status, JSON.stringify(view)).toBe('Complete');
  targets = { inferenceService: view.stages.inferenceService.id!, evaluation: view.stages.evaluation.id! };
  pipelineAudits = view.audits ?? [];
}, 240_000);

afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await cleanup?.();
});

describe('the example audit (spam-robustness) on the embedded default', () => {
  let auditId: string;

  it('a pipeline that lists the audit runs it after its report, with its service, evaluation and report as targets', async () => {
    expect(pipelineAudits).toHaveLength(1);
    expect(pipelineAudits[0]!.status).toBe('Done');
    const audit = (await client.get(pipelineAudits[0]!.id!))!;
    expect(audit.kind).toBe('Audit');
    expect(audit.status, audit.message).toBe('Complete');
    expect(audit.spec).toMatchObject({ ...targets, parameters: { maxMails: 6 } });
    const results = JSON.parse(
      (await worker.adapters.objectStore.getBuffer('auditreports', `${audit.id}/results.json`)).toString(),
    ) as { mails: number };
    expect(results.mails).toBe(6);
  });

  it('dyffctl create -f examples/spamassassin-audit.yaml --wait: Complete, its tree checksum recorded, its session stopped', async () => {
    const r = await run(
      [
        'create',
        '-f',
        join(EXAMPLES, 'spamassassin-audit.yaml'),
        '--set',
        `spec.inferenceService=${targets.inferenceService}`,
        '--set',
        `spec.evaluation=${targets.evaluation}`,
        '--wait',
      ],
      cliEnv(config),
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    auditId = /Audit ([0-9a-f]{32}) created/.exec(r.stdout)![1]!;
    const view = (await client.get(auditId))!;
    expect(view.status, view.message).toBe('Complete');
    const details = view.details as { procedure: { name: string; treeSha256: string }; files: string[] };
    expect(details.procedure.name).toBe('spam-robustness');
    expect(details.procedure.treeSha256).toBe(await treeSha256(SPAM_ROBUSTNESS));
    expect(details.files).toEqual(['index.html', 'results.json']);
    // The session the audit probed is gone, and the procedure's requests reached it.
    expect(await worker.adapters.sessionRunner.list(auditId)).toEqual([]);
    const results = JSON.parse(
      (await worker.adapters.objectStore.getBuffer('auditreports', `${auditId}/results.json`)).toString(),
    ) as { mails: number; accuracy: number; perturbations: { flipRate: number }[] };
    expect(results.mails).toBeGreaterThan(0);
    expect(results.accuracy).toBe(1);
    expect(results.perturbations).toHaveLength(4);
    expect((await client.logs(auditId)).text).toContain('procedure: wrote index.html and results.json');
  }, 180_000);

  it.skipIf(!hasChromium)(
    'its index.html, opened in headless Chromium, shows the flip-rate table and chart and the reliability diagram',
    async () => {
      expect(auditId).toBeDefined();
      const file = worker.adapters.objectStore.localPath!('auditreports', `${auditId}/index.html`);
      let browser: Browser | undefined;
      try {
        browser = await startBrowser();
        const page = await browser.newPage();
        await page.goto(`file://${file}`, { waitUntil: 'load' });
        const flipRates = await page.$$eval('#flip-rates tbody tr', (rows) =>
          rows.map((r) => ({
            id: r.getAttribute('data-perturbation'),
            rate: r.querySelector('.flip-rate')?.textContent,
          })),
        );
        expect(flipRates.map((r) => r.id)).toEqual([
          'char-noise',
          'upper-case',
          'lower-case',
          'inserted-urls',
        ]);
        for (const r of flipRates) expect(Number(r.rate)).toBeGreaterThanOrEqual(0);
        const bars = await page.$$eval('#flip-chart .bar', (gs) =>
          gs.map((g) => ({
            value: g.getAttribute('data-value'),
            width: g.querySelector('rect')!.getBBox().width,
          })),
        );
        expect(bars).toHaveLength(4);
        for (const b of bars) expect(Number.isFinite(Number(b.value))).toBe(true);
        const bins = await page.$$eval('#reliability .bin', (gs) =>
          gs.map((g) => ({
            count: Number(g.getAttribute('data-count')),
            observed: Number(g.getAttribute('data-observed')),
            predicted: Number(g.getAttribute('data-predicted')),
          })),
        );
        expect(bins.length).toBeGreaterThan(0);
        expect(bins.reduce((a, b) => a + b.count, 0)).toBeGreaterThan(0);
        for (const b of bins) {
          expect(b.observed).toBeGreaterThanOrEqual(0);
          expect(b.predicted).toBeLessThanOrEqual(1);
        }
        // The diagram is drawn: the circles have a size on the page.
        const drawn = await page.$eval('#reliability', (svg) => svg.getBoundingClientRect().width);
        expect(drawn).toBeGreaterThan(100);
        expect(await page.$eval('#ece', (e) => e.textContent)).toMatch(/\d\.\d{4}/);
      } finally {
        await browser?.close();
      }
    },
    120_000,
  );

  it('a cancel while the procedure runs: Terminated, the procedure stopped, the session stopped', async () => {
    const dir = join(config.dataHome, 'hang');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'procedure.json'),
      JSON.stringify({ name: 'hang', entrypoint: 'main.mjs', probesModel: true }),
    );
    await writeFile(join(dir, 'main.mjs'), 'console.log(`pid=${process.pid}`); setInterval(() => {}, 1000);');
    const id = await startAudit(client, config, {
      procedure: { kind: 'local', path: dir },
      inferenceService: targets.inferenceService,
    });
    const pid = await until('the procedure to start', async () => {
      const m = /procedure: pid=(\d+)/.exec((await client.logs(id)).text);
      return m ? Number(m[1]) : undefined;
    });
    expect(await worker.adapters.sessionRunner.list(id)).toHaveLength(1);
    await client.cancel(id);
    const view = await client.wait(id);
    expect([view.status, view.reason]).toEqual(['Terminated', 'TerminateCommand']);
    await until('the procedure to exit', async () => !alive(pid));
    await until(
      'the session to stop',
      async () => (await worker.adapters.sessionRunner.list(id)).length === 0,
    );
  }, 120_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
