import { describe, expect, it } from 'vitest';
import { isId, newId } from '../../src/domain/ids.js';
import { jobName } from '../../src/domain/naming.js';
import { canTransition, isTerminal, outcomesOf, STATUSES, TRANSITIONS } from '../../src/domain/status.js';

describe('statuses and transitions', () => {
  it('terminal statuses lead nowhere but Deleted', () => {
    for (const s of STATUSES.filter(isTerminal)) {
      expect(TRANSITIONS[s].filter((t) => t !== 'Deleted')).toEqual([]);
    }
  });
  it('a resource goes Created → Admitted → Ready | Error; a job kind ends Complete | Failed', () => {
    expect(canTransition('Created', 'Admitted')).toBe(true);
    expect(canTransition('Admitted', 'Ready')).toBe(true);
    expect(canTransition('Ready', 'Admitted')).toBe(false);
    expect(canTransition('Created', 'Ready')).toBe(false);
    expect(outcomesOf('Dataset')).toEqual({ success: 'Ready', failure: 'Error' });
    expect(outcomesOf('Evaluation')).toEqual({ success: 'Complete', failure: 'Failed' });
  });
});

describe('ids and job names', () => {
  it('ids are 32 lowercase hex digits and unique', () => {
    const a = newId();
    expect(isId(a)).toBe(true);
    expect(a).not.toBe(newId());
    expect(isId('not-an-id')).toBe(false);
  });
  it('job names are deterministic DNS labels from (entity, stage, try)', () => {
    const id = 'a'.repeat(32);
    expect(jobName(id, 'ingest', 2)).toBe(`ingest-${id}-2`);
    expect(jobName(id, 'ingest', 2)).toBe(jobName(id, 'ingest', 2));
    expect(jobName(id, 'Fetch_Data', 1)).toMatch(/^[a-z0-9-]{1,63}$/);
  });
});
