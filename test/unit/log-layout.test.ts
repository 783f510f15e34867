import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import {
  HAND_RUN_TRY,
  legacyLogKey,
  logChunkKey,
  logPrefix,
  parseLogChunkKey,
  tryOfJobName,
} from '../../src/domain/log-layout.js';
import { jobName } from '../../src/ports/job-runner.js';

const id = newId();

describe('log layout', () => {
  it('reads the try from the job name a runner gives each try', () => {
    for (const attempt of [1, 2, 10, 123])
      expect(tryOfJobName(jobName(id, 'ingest', attempt), id)).toBe(attempt);
    expect(tryOfJobName(undefined, id)).toBe(HAND_RUN_TRY);
    expect(tryOfJobName('', id)).toBe(HAND_RUN_TRY);
  });

  it('gives no try for a job name of another shape (the step then logs as try 0 and says so)', () => {
    expect(tryOfJobName('fetch-someone-else-1', id)).toBeUndefined();
    expect(tryOfJobName(`fetch-${id}`, id)).toBeUndefined();
    expect(tryOfJobName(`fetch-${id}-x`, id)).toBeUndefined();
  });

  it('numbers chunks so that lexical order is write order, and parses them back', () => {
    const keys = [0, 1, 9, 10, 999_999, 1_000_000].map((seq) => logChunkKey(id, 'fetch-data', 2, seq));
    expect([...keys].sort()).toEqual(keys);
    expect(keys[0]).toBe(`${id}/.dyff/logs/fetch-data/002/000000000.txt`);
    expect(keys.every((k) => k.startsWith(logPrefix(id, 'fetch-data', 2)))).toBe(true);
    expect(parseLogChunkKey(id, keys[3]!)).toEqual({ step: 'fetch-data', try: 2, seq: 10 });
    expect(parseLogChunkKey(id, legacyLogKey(id))).toBeUndefined();
    expect(parseLogChunkKey(newId(), keys[0]!)).toBeUndefined();
  });

  it('refuses a step name that could leave its prefix', () => {
    expect(() => logPrefix(id, '../evil')).toThrow(/invalid step name/);
  });
});
