import { invalidInput } from './errors.js';

/**
 * User patterns (`labelPattern` regexes, `include` and allow/ignore globs) run against every file name, in
 * JavaScript's backtracking engine. A pattern that can backtrack catastrophically would hang the step on one
 * crafted name, so it is refused before use: too long (`limits.maxPatternLength`), a quantified group that
 * itself holds a quantifier (`(a+)+`, `(x|y*)*`), a back-reference, or a glob with more wildcards than
 * `MAX_GLOB_WILDCARDS` (each `*` is a `.*`, and k of them cost n^k on a name that almost matches).
 */
export const MAX_GLOB_WILDCARDS = 8;

const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,?\d*\})(?:[^()\\]|\\.)*\)(?:[+*]|\{\d+,?\d*\})/;
const BACK_REFERENCE = /\\[1-9]|\\k</;

export function checkRegex(pattern: string, field: string, maxLength: number): void {
  checkLength(pattern, field, maxLength);
  if (NESTED_QUANTIFIER.test(pattern)) {
    throw invalidInput(
      `${field}: nested quantifiers (e.g. (a+)+) can take exponential time; rewrite the pattern`,
    );
  }
  if (BACK_REFERENCE.test(pattern)) throw invalidInput(`${field}: back-references are not allowed`);
}

export function checkGlob(glob: string, field: string, maxLength: number): void {
  checkLength(glob, field, maxLength);
  const wildcards = (glob.match(/\*+/g) ?? []).length;
  if (wildcards > MAX_GLOB_WILDCARDS) {
    throw invalidInput(`${field}: ${wildcards} wildcards; at most ${MAX_GLOB_WILDCARDS} are allowed`);
  }
}

function checkLength(pattern: string, field: string, maxLength: number): void {
  if (pattern.length > maxLength) {
    throw invalidInput(
      `${field}: ${pattern.length} characters is more than limits.maxPatternLength (${maxLength})`,
    );
  }
}
