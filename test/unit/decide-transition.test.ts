import { describe, expect, it } from 'vitest';
import type { Status } from '../../src/domain/status.js';
import { canTransition, decideTransition, isTerminal, STATUSES } from '../../src/domain/status.js';

describe('decideTransition', () => {
  it('applies a move the caller allows and the status table permits', () => {
    expect(decideTransition({ status: 'Created' }, { allowedFrom: ['Created'], to: 'Admitted' })).toEqual({
      kind: 'apply',
      from: 'Created',
      to: 'Admitted',
      restate: false,
    });
  });

  it('is a no-op repeat when the entity already reached the target (a retry after the write)', () => {
    const decision = decideTransition(
      { status: 'Admitted' },
      { allowedFrom: ['Created'], to: 'Admitted', reason: 'Restarted', message: 'a retry' },
    );
    expect(decision).toEqual({ kind: 'noop', why: 'repeat' });
  });

  it('restates a waiting entity whose reason or message changed, in the same status', () => {
    const waiting = { status: 'Created' as const, reason: 'QuotaLimit' as const, message: 'slot 1' };
    const ask = { allowedFrom: ['Created'] as Status[], to: 'Created' as const };
    const restate = { kind: 'apply', from: 'Created', to: 'Created', restate: true };
    expect(decideTransition(waiting, { ...ask, reason: 'QuotaLimit', message: 'slot 2' })).toEqual(restate);
    expect(decideTransition(waiting, { ...ask, reason: 'UnsatisfiedDependency', message: 'slot 1' })).toEqual(
      restate,
    );
    expect(decideTransition(waiting, { ...ask, reason: 'QuotaLimit' })).toEqual(restate);
    expect(decideTransition({ status: 'Created' }, { ...ask, reason: 'QuotaLimit' })).toEqual(restate);
  });

  it('is a no-op when a restatement says nothing new', () => {
    const waiting = { status: 'Created' as const, reason: 'QuotaLimit' as const, message: 'slot 1' };
    const ask = { allowedFrom: ['Created'] as Status[], to: 'Created' as const };
    expect(decideTransition(waiting, { ...ask, reason: 'QuotaLimit', message: 'slot 1' })).toEqual({
      kind: 'noop',
      why: 'unchanged',
    });
    expect(decideTransition({ status: 'Created' }, ask)).toEqual({ kind: 'noop', why: 'unchanged' });
  });

  it('refuses a move from a status the caller did not expect, naming both statuses', () => {
    const decision = decideTransition({ status: 'Created' }, { allowedFrom: ['Admitted'], to: 'Ready' });
    expect(decision).toMatchObject({ kind: 'refuse', why: 'not-allowed-from' });
    expect(decision.kind === 'refuse' && decision.message).toBe(
      'is Created: cannot move to Ready (allowed from Admitted)',
    );
    const none = decideTransition({ status: 'Created' }, { allowedFrom: [], to: 'Admitted' });
    expect(none.kind === 'refuse' && none.message).toMatch(/allowed from nothing/);
  });

  it('refuses to leave a terminal status for anything but Deleted, even when the caller allows it', () => {
    for (const ended of STATUSES.filter((s) => isTerminal(s) && s !== 'Deleted')) {
      const decision = decideTransition({ status: ended }, { allowedFrom: [ended], to: 'Admitted' });
      expect(decision).toMatchObject({ kind: 'refuse', why: 'terminal' });
      expect(decision.kind === 'refuse' && decision.message).toMatch(new RegExp(`${ended} is terminal`));
    }
    expect(decideTransition({ status: 'Failed' }, { allowedFrom: ['Failed'], to: 'Deleted' })).toMatchObject({
      kind: 'apply',
      restate: false,
    });
  });

  it('refuses a move the status table forbids although the caller listed the current status', () => {
    const decision = decideTransition({ status: 'Created' }, { allowedFrom: ['Created'], to: 'Ready' });
    expect(decision).toMatchObject({ kind: 'refuse', why: 'not-in-lifecycle' });
  });

  it('over every pair of statuses: applies exactly the listed moves the table allows', () => {
    for (const from of STATUSES) {
      for (const to of STATUSES.filter((s) => s !== from)) {
        for (const allowedFrom of [[from], STATUSES.filter((s) => s !== from)]) {
          const decision = decideTransition({ status: from }, { allowedFrom, to });
          const expected = allowedFrom.includes(from) && canTransition(from, to) ? 'apply' : 'refuse';
          expect(decision.kind, `${from} → ${to} allowed from ${allowedFrom.join(',')}`).toBe(expected);
        }
      }
    }
  });
});
