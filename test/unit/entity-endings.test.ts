import { describe, expect, it } from 'vitest';
import { datasetEnding, endingDetails, endingOfStep, stepEnding } from '../../src/domain/entity-endings.js';

/*
 * Each entity's success as its last step's output makes it: one rule for the activity that records it and for a
 * workflow that records it itself, so both write the same status, message and details.
 */
describe('entity endings', () => {
  it("make each kind's status, message and details from its step's output", () => {
    expect(stepEnding('fetch-model', { files: [{ path: 'a' }, { path: 'b' }] })).toEqual({
      to: 'Ready',
      message: '2 files',
      details: { files: 2 },
    });
    expect(stepEnding('build-service', { runner: 'x' })).toEqual({
      to: 'Ready',
      details: { description: { runner: 'x' } },
    });
    // Summaries of older versions list the skipped items instead of counting them.
    const summary = { written: 9, skipped: [{ _index_: 1 }] };
    expect(stepEnding('verify-outputs', summary)).toEqual({
      to: 'Complete',
      message: '9 outputs, 1 skipped',
      details: { summary },
    });
    expect(stepEnding('report', { metrics: { accuracy: 0.123456, broken: null, f1: 1 } })).toEqual({
      to: 'Complete',
      message: 'accuracy=0.1235 f1=1',
      details: { metrics: { accuracy: 0.123456, f1: 1 } },
    });
    expect(datasetEnding({ rowCount: 3, artifacts: [], columns: [], location: 'file:///d' })).toMatchObject({
      to: 'Ready',
      message: '3 rows',
    });
  });

  it('make none from a missing or incomplete output, nor for a step that ends no entity', () => {
    expect(stepEnding('build-service', undefined)).toBeUndefined();
    expect(stepEnding('verify-outputs', undefined)).toBeUndefined();
    expect(stepEnding('report', { headline: 'no metrics' })).toBeUndefined();
    expect(endingOfStep('fetch-data', { anything: 1 })).toBeUndefined();
    expect(endingOfStep('toString', {})).toBeUndefined();
    // A model without a manifest is Ready with no files, as it always was.
    expect(endingOfStep('fetch-model', undefined)).toMatchObject({ message: '0 files' });
  });

  it('keep the retried tries in the details only when there were any', () => {
    const ending = stepEnding('fetch-model', { files: [] });
    expect(endingDetails(ending, [])).toEqual({ files: 0 });
    expect(endingDetails(ending, [{ try: 1 }])).toEqual({ files: 0, retries: [{ try: 1 }] });
  });
});
