import { describe, expect, it } from 'vitest';
import { missingReportColumn, reportColumns } from '../../src/domain/report-columns.js';

const at = 'spec.report.parameters';

describe('the dataset columns a report reads, checked before its evaluation runs', () => {
  it('reads the label column, and the split column only when it scores one split', () => {
    expect(reportColumns(undefined, at)).toEqual([{ field: `${at}.labelColumn`, column: 'label' }]);
    expect(reportColumns({ labelColumn: 'y', split: 'test' }, at)).toEqual([
      { field: `${at}.labelColumn`, column: 'y' },
      { field: `${at}.splitColumn`, column: 'split' },
    ]);
  });

  it('names the field, the column and what the dataset has; matches names whatever their case, as DuckDB does', () => {
    const columns = ['_index_', 'text', 'Label', 'fold'];
    expect(missingReportColumn(reportColumns({ labelColumn: 'label' }, at), columns, 'd1')).toBeUndefined();
    expect(missingReportColumn(reportColumns({ labelColumn: 'lable' }, at), columns, 'd1')).toBe(
      `${at}.labelColumn: column "lable" not in dataset d1; available: _index_, text, Label, fold`,
    );
    expect(
      missingReportColumn(reportColumns({ split: 'test', splitColumn: 'split' }, at), columns, 'd1'),
    ).toMatch(/^spec\.report\.parameters\.splitColumn: column "split" not in dataset d1/);
    expect(
      missingReportColumn(reportColumns({ split: 'test', splitColumn: 'FOLD' }, at), columns, 'd1'),
    ).toBeUndefined();
  });
});
