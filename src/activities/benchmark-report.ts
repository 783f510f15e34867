import type { BenchmarkReportDocument } from '../domain/benchmark.js';
import { objectPath, reportKeys } from '../domain/object-layout.js';
import type { ObjectStore } from '../ports/object-store.js';
import { robustnessHtml } from '../steps/report/robustness-html.js';

/**
 * The report across a benchmark's corruptions, from numbers its workflow already holds (each cell's report
 * metrics): no step reads any data for it. The page goes first and `benchmark.json` last, like a report's.
 */
export const createBenchmarkActivities = (objects: ObjectStore) => ({
  async writeBenchmarkReport(doc: BenchmarkReportDocument): Promise<{ page: string; document: string }> {
    const id = doc.benchmarkId;
    await objects.put('reports', reportKeys.page(id), robustnessHtml(doc), { contentType: 'text/html' });
    await objects.put('reports', reportKeys.benchmark(id), JSON.stringify(doc, null, 2), {
      contentType: 'application/json',
    });
    return {
      page: objectPath({ category: 'reports', key: reportKeys.page(id) }),
      document: objectPath({ category: 'reports', key: reportKeys.benchmark(id) }),
    };
  },
});
