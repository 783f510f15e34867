import { describe, expect, it } from 'vitest';
import { createPredictor, parseModel, predict, tokenize, train } from '../../src/model/naive-bayes.js';

const corpus = [
  { text: 'Buy cheap pills', label: 'spam' },
  { text: 'cheap pills NOW', label: 'spam' },
  { text: 'Meeting at noon', label: 'ham' },
  { text: 'lunch at noon', label: 'ham' },
];

describe('tokenize', () => {
  it('lowercases runs of letters and digits and drops punctuation and very long runs', () => {
    expect(tokenize(`Hello, WORLD! It's 2024 — café ${'x'.repeat(41)}`)).toEqual([
      'hello',
      'world',
      'it',
      's',
      '2024',
      'café',
    ]);
  });
});

describe('multinomial naive Bayes', () => {
  const model = train(corpus);

  it('learns sorted labels, priors and Laplace-smoothed likelihoods', () => {
    expect(model.labels).toEqual(['ham', 'spam']);
    expect(model.vocabulary).toHaveLength(8);
    expect(model.logPriors.map(Math.exp)).toEqual([0.5, 0.5]);
    // spam: cheap 2 of 6 tokens; smoothed (2 + 1) / (6 + 8).
    const cheap = model.vocabulary.indexOf('cheap');
    expect(Math.exp(model.logLikelihoods[1]![cheap]!)).toBeCloseTo(3 / 14, 12);
    expect(Math.exp(model.logLikelihoods[0]![cheap]!)).toBeCloseTo(1 / 14, 12);
  });

  it('scores by posterior, sorted, with the exact answer for a two-word text', () => {
    // spam ∝ (3/14)², ham ∝ (1/14)²: spam = 9 / (9 + 1).
    const [first, second] = predict(model, 'cheap pills');
    expect(first!.label).toBe('spam');
    expect(first!.score).toBeCloseTo(0.9, 12);
    expect(second).toEqual({ label: 'ham', score: expect.closeTo(0.1, 12) as number });
  });

  it('ignores words outside the vocabulary and falls back to the priors', () => {
    expect(predict(model, 'cheap pills zebra')[0]!.score).toBeCloseTo(0.9, 12);
    const scores = predict(model, 'zebra').map((p) => p.score);
    expect(scores).toEqual([0.5, 0.5]);
  });

  it('keeps the tokens found in most documents when the vocabulary is capped', () => {
    const small = train(corpus, { vocabularySize: 3 });
    // cheap, pills, at, noon are each in two documents; ties go alphabetically.
    expect(small.vocabulary).toEqual(['at', 'cheap', 'noon']);
    expect(createPredictor(small)('noon')[0]!.label).toBe('ham');
  });

  it('round-trips through JSON and refuses a model whose tables disagree', () => {
    expect(predict(parseModel(JSON.parse(JSON.stringify(model))), 'meeting')[0]!.label).toBe('ham');
    expect(() => parseModel({ ...model, logPriors: [0] })).toThrow(/do not agree/);
    expect(() => parseModel({ format: 'other' })).toThrow(/not a dyff-naive-bayes/);
  });
});
