import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, chromium, chromiumPresent } from './helpers/chromium.js';
import { colourCounts, decodePng, pixelsNear } from './helpers/png.js';
import { classifierFixture, reportHtml, runReport } from './helpers/report-fixtures.js';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv, newId } from './helpers/step-env.js';

/**
 * The report page as a browser draws it: headless Chromium loads the generated index.html from disk, with the
 * network features off, and the charts must come out with real sizes and colours.
 */

let env: StepEnv;
let page: string;

beforeAll(async () => {
  if (process.env.DYFF_SKIP_BROWSER === '1') return;
  if (!(await chromiumPresent())) {
    throw new Error(
      `${CHROMIUM} not found: the report page test needs Chromium; run \`apt-get update && apt-get install -y chromium\` (or set DYFF_SKIP_BROWSER=1 to skip)`,
    );
  }
  env = await createStepEnv();
  const { dataset, evaluation } = await classifierFixture(env, { replications: 2 });
  const history = [0.55, 0.62, 0.7].map((accuracy, i) => ({
    reportId: newId(),
    createdAt: `2024-0${i + 1}-01T06:00:00Z`,
    metrics: { accuracy },
  }));
  const lineage = { dataset: { id: dataset, spec: { source: { kind: 'local', path: 'data/' } } } };
  const id = newId();
  const spec = { evaluation, rubric: 'classification.accuracy', parameters: { split: 'test' } };
  const run = await runReport(env, id, spec, { dataset, lineage, history });
  expect(run.code, run.lines.join('\n')).toBe(0);
  page = join(env.root, 'index.html');
  await writeFile(page, await reportHtml(env, id));
});
afterAll(async () => {
  await env?.cleanup();
});

// Test-only: the report has no script; a copy gets one that records the laid-out sizes into the DOM Chromium dumps.
const MEASURE = `<pre id="measured"></pre><script>
const size = (e) => { const r = e.getBoundingClientRect(); return { w: r.width, h: r.height }; };
const all = (sel) => [...document.querySelectorAll(sel)].map((e) => ({ ...size(e), ...e.parentElement.dataset }));
document.getElementById('measured').textContent = JSON.stringify({
  cells: all('.cm-cell rect'), bars: all('.bar rect'), trend: size(document.querySelector('.trend-line')),
});
</script>`;

interface Box {
  w: number;
  h: number;
}
type Measured = {
  cells: (Box & Record<string, string>)[];
  bars: (Box & Record<string, string>)[];
  trend: Box;
};

describe.skipIf(process.env.DYFF_SKIP_BROWSER === '1')('report page in headless Chromium', () => {
  it('lays out every confusion cell, per-class bar and the trend line with real sizes', async () => {
    const measuring = join(env.root, 'measure.html');
    await writeFile(measuring, (await readFile(page, 'utf8')).replace('</body>', `${MEASURE}</body>`));
    const { stdout } = await chromium(['--dump-dom', pathToFileURL(measuring).href]);
    const json = /<pre id="measured">(.*?)<\/pre>/s.exec(stdout)?.[1];
    expect(json, 'the dumped DOM has no measurements: did the page load?').toBeTruthy();
    const m = JSON.parse(
      json!.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&'),
    ) as Measured;

    // 3 × 3 cells, square and equal, holding the pooled counts of both replications.
    expect(m.cells).toHaveLength(9);
    const side = m.cells[0]!.w;
    expect(side).toBeGreaterThan(20);
    for (const c of m.cells) {
      expect(c.w).toBeCloseTo(side, 1);
      expect(c.h).toBeCloseTo(side, 1);
    }
    expect(m.cells.map((c) => Number(c.count))).toEqual([5, 0, 1, 0, 6, 2, 0, 2, 4]);

    // Precision, recall and F1 for bird, cat and dog; widths on one scale, so width / value is the same for all.
    expect(m.bars).toHaveLength(9);
    const scale = m.bars.map((b) => b.w / Number(b.value));
    for (const s of scale) expect(s).toBeCloseTo(460, 0);
    expect(m.bars.every((b) => b.w > 0 && b.h > 0)).toBe(true);
    expect(m.trend.w).toBeGreaterThan(300);
    expect(m.trend.h).toBeGreaterThan(10);
  });

  it('renders a screenshot with the heatmap, the bar colours and the trend on it', async () => {
    const png = join(env.root, 'report.png');
    await chromium([`--screenshot=${png}`, '--window-size=1200,1600', pathToFileURL(page).href]);
    const file = await readFile(png);
    if (process.env.DYFF_REPORT_SCREENSHOT) await copyFile(png, process.env.DYFF_REPORT_SCREENSHOT);
    const img = decodePng(file);
    expect([img.width, img.height]).toEqual([1200, 1600]);
    const colours = colourCounts(img);
    expect(colours.size, 'a blank or single-colour page').toBeGreaterThan(100);
    const white = pixelsNear(colours, [255, 255, 255], 0);
    expect(white / (img.width * img.height)).toBeLessThan(0.9);
    // Each chart's own fill: the darkest heatmap cell, the three bar series and the current trend point.
    const near = (rgb: [number, number, number]) => pixelsNear(colours, rgb);
    expect(near([8, 48, 107]), 'darkest confusion cell').toBeGreaterThan(500);
    expect(near([78, 121, 167]), 'precision bars').toBeGreaterThan(500);
    expect(near([242, 142, 43]), 'recall bars').toBeGreaterThan(500);
    expect(near([89, 161, 79]), 'F1 bars').toBeGreaterThan(500);
    expect(near([225, 87, 89]), 'this run on the trend').toBeGreaterThan(30);
  });
});
