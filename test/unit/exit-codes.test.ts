import { describe, expect, it } from 'vitest';
import { CLI_EXIT_CODES, cliExitCode, ExitCode } from '../../src/cli/exit-codes.js';
import { DyffError, ErrorType, NON_RETRYABLE } from '../../src/domain/errors.js';
import { exitOutcome } from '../../src/domain/job-outcome.js';
import {
  EXIT_FAILED,
  EXIT_INVALID_INPUT,
  EXIT_TEMPFAIL,
  STEP_EXIT_CODES,
  invalidInput,
  stepExitCode,
  transientFailure,
} from '../../src/steps/errors.js';

const TYPES = Object.values(ErrorType);

describe('one failure vocabulary, two exit-code maps', () => {
  it('every failure type has a step exit code and a CLI exit code', () => {
    expect(Object.keys(STEP_EXIT_CODES).sort()).toEqual([...TYPES].sort());
    expect(Object.keys(CLI_EXIT_CODES).sort()).toEqual([...TYPES].sort());
  });

  it('a step exits 2 exactly for the types no retry can fix, which its job then fails without a new try', () => {
    for (const type of TYPES) {
      const code = stepExitCode(new DyffError(type, 'm'));
      expect({ type, code }).toEqual({
        type,
        code: NON_RETRYABLE.includes(type) ? EXIT_INVALID_INPUT : EXIT_FAILED,
      });
      expect(exitOutcome(code)).toBe('failed');
    }
  });

  it("a step's own verdict wins over its type: invalid input exits 2, a transient failure 75", () => {
    expect(stepExitCode(invalidInput('bad url', ErrorType.SourceUnavailable))).toBe(EXIT_INVALID_INPUT);
    expect(stepExitCode(transientFailure('503 for a while'))).toBe(EXIT_TEMPFAIL);
    expect(exitOutcome(EXIT_TEMPFAIL)).toBe('transient');
    // A type no retry can fix stays input to fix even if the step called it transient.
    expect(stepExitCode(transientFailure('m', ErrorType.ChecksumMismatch))).toBe(EXIT_INVALID_INPUT);
    expect(stepExitCode(new Error('a bug'))).toBe(EXIT_FAILED);
  });

  it('dyffctl says what to do: fix the input, it is missing, it could not be reached, or it failed', () => {
    expect(cliExitCode(new DyffError(ErrorType.InvalidSpec, 'm'))).toBe(ExitCode.InvalidInput);
    expect(cliExitCode(new DyffError(ErrorType.NotFound, 'm'))).toBe(ExitCode.NotFound);
    expect(cliExitCode(new DyffError(ErrorType.SourceUnavailable, 'm'))).toBe(ExitCode.Unavailable);
    expect(cliExitCode(new DyffError(ErrorType.ChecksumMismatch, 'm'))).toBe(ExitCode.EntityFailed);
    expect(cliExitCode(new Error('a bug'))).toBe(ExitCode.EntityFailed);
    // The same failure reads differently in each map: a missing entity is a step's bad input, a script's 3.
    expect(STEP_EXIT_CODES.NotFound).not.toBe(CLI_EXIT_CODES.NotFound);
  });
});
