import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../src/adapters/process-group.js';
import { SqliteEntityStore } from '../../src/adapters/entity-store/sqlite.js';
import { FilesystemObjectStore } from '../../src/adapters/object-store/filesystem.js';
import { Pipelines } from '../../src/client-pipelines.js';
import type { Config } from '../../src/config.js';
import type { DevServer } from '../../src/dev/dev-server.js';
import { startDevServer } from '../../src/dev/dev-server.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';
import { stepEffects } from '../support/step-effects.js';
import { startScriptedWorker } from '../support/orchestration.js';
import { temporalClient, testConfig } from '../support/temporal.js';
import type { Browser } from 'puppeteer-core';
import { pageHas, pageWithStorage, startBrowser } from './steps/helpers/browser.js';
import { chromiumPresent } from './steps/helpers/chromium.js';

/*
 * The Temporal UI (the dev server's, in headless Chromium) after a pipeline: the workflow list filtered by
 * `DyffKind="Dataset"`, with the `DyffSummary` and `DyffStatus` columns a user adds in its column picker, shows
 * the run the pipeline started, by its summary, and nothing of another kind; the run's page shows its summary and
 * details. Screenshots go to a temporary directory; `DYFF_UPDATE_SCREENSHOTS=1` writes the ones the README shows.
 */

const SHOTS = process.env.DYFF_UPDATE_SCREENSHOTS ? resolve(import.meta.dirname, '../../docs') : undefined;
let server: DevServer;
let config: Config;
let cleanup: () => Promise<void>;
let uiPort: number;
let stopWorker: () => Promise<void>;
let datasetWorkflowId: string;
let datasetRunId: string;
let browser: Browser;

beforeAll(async () => {
  if (!(await chromiumPresent())) throw new Error('/usr/bin/chromium not found: apt-get install -y chromium');
  uiPort = await freePort();
  server = await startDevServer({ port: 0, uiPort });
  const t = await testConfig();
  cleanup = t.cleanup;
  config = { ...t.config, temporal: { ...t.config.temporal, address: server.address } };
  const objects = new FilesystemObjectStore({ root: join(config.dataHome, 'objects') });
  const entities = new SqliteEntityStore({ path: join(config.dataHome, 'entities.sqlite') });
  ({ stop: stopWorker } = await startScriptedWorker({ config, entities, objects }, () => ({
    outcome: 'succeed',
    effect: stepEffects(objects),
  })));
  const client = await temporalClient(config);
  const pipelines = new Pipelines(client, config.temporal.taskQueue);
  const { id } = await pipelines.start(
    parsePipelineManifest(`
kind: Pipeline
account: public
metadata: { name: spamassassin }
spec:
  dataset: { source: { kind: url, url: "https://example.invalid/spam.csv" }, ingest: { format: csv } }
  model: { source: { kind: urls, urls: ["https://example.invalid/model.json"] } }
  service: { runner: { kind: http, endpoint: "https://example.invalid" } }
  report: { rubric: classification.accuracy }
`),
  );
  const view = await pipelines.wait(id);
  expect(view.status).toBe('Complete');
  datasetWorkflowId = `dataset-${view.stages.dataset.id}`;
  datasetRunId = (await client.workflow.getHandle(datasetWorkflowId).describe()).runId;
  await client.connection.close();
  browser = await startBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stopWorker?.();
  await server?.stop();
  await cleanup?.();
});

/**
 * The workflow list's columns as the UI keeps them (per namespace, in localStorage) after a user added the
 * `DyffSummary` and `DyffStatus` search attributes in its column picker.
 */
const LIST_COLUMNS = {
  default: [
    { label: 'Status', pinned: true },
    { label: 'Workflow ID', pinned: true },
    { label: 'DyffSummary', pinned: false },
    { label: 'DyffStatus', pinned: false },
    { label: 'Type', pinned: false },
    { label: 'Start', pinned: false },
    { label: 'End', pinned: false },
  ],
};

/** The page as the browser renders it once `text` shows (the UI fetches after it loads), and its screenshot. */
async function render(path: string, png: string, text: string): Promise<string> {
  const page = await pageWithStorage(browser, { 'namespace-workflow-table-columns': LIST_COLUMNS });
  try {
    await page.goto(`http://127.0.0.1:${uiPort}${path}`, { waitUntil: 'networkidle0', timeout: 60_000 });
    await page.waitForFunction(pageHas, { timeout: 60_000 }, text);
    await page.screenshot({ path: png });
    expect(existsSync(png)).toBe(true);
    return await page.content();
  } finally {
    await page.close();
  }
}

it('the workflow list filtered by DyffKind="Dataset" shows the Dataset run the pipeline started by its summary, and no other', async () => {
  const query = encodeURIComponent('DyffKind="Dataset"');
  const dom = await render(
    `/namespaces/default/workflows?query=${query}`,
    join(SHOTS ?? config.dataHome, 'ui-list-dataset.png'),
    datasetWorkflowId,
  );
  // The summary column holds the run's summary, the status column its final status.
  expect(dom).toContain('Dataset spamassassin (public)');
  expect(dom).toMatch(/>\s*Ready\s*</);
  // Each listed run links to its history.
  const listed = new Set(
    [...dom.matchAll(/href="\/namespaces\/default\/workflows\/([a-z]+-[0-9a-f]{32})\//g)].map((m) => m[1]),
  );
  expect([...listed]).toEqual([datasetWorkflowId]);
}, 120_000);

it("the run's page names each step activity by its job, and its metadata tab shows summary and details", async () => {
  const history = await render(
    `/namespaces/default/workflows/${datasetWorkflowId}/${datasetRunId}/history`,
    join(SHOTS ?? config.dataHome, 'ui-run-dataset.png'),
    'fetch-data job',
  );
  const id = datasetWorkflowId.replace('dataset-', '');
  expect(history).toContain(`fetch-data job fetch-${id}-1`);
  expect(history).toContain(`ingest-dataset job ingest-${id}-1`);
  const metadata = await render(
    `/namespaces/default/workflows/${datasetWorkflowId}/${datasetRunId}/user-metadata`,
    join(SHOTS ?? config.dataHome, 'ui-run-dataset-metadata.png'),
    '/render?content=',
  );
  // The UI renders each markdown text in a frame of its own, the text in the frame's address.
  const rendered = [...metadata.matchAll(/src="\/render\?content=([^&"]*)/g)].map((m) =>
    decodeURIComponent(m[1]!),
  );
  expect(rendered).toContain('Dataset spamassassin (public)');
  const details = rendered.find((t) => t.startsWith('**Dataset**'));
  expect(details).toContain('- source.kind: url');
  expect(details).toContain('- ingest.format: csv');
  expect(rendered.find((t) => t.startsWith('**Ready**'))).toBeDefined();
}, 120_000);
