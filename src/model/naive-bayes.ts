/**
 * Multinomial naive Bayes over word counts with Laplace (add-alpha) smoothing: small, fast, and a real text
 * classifier for the demo (SpamAssassin: easy-ham, hard-ham, spam). Pure functions shared by the training script,
 * the model server and the tests.
 */

/** `model.json`: everything `predict` needs. */
export interface NaiveBayesModel {
  format: 'dyff-naive-bayes';
  version: 1;
  /** Sorted; the order of `logPriors` and `logLikelihoods`. */
  labels: string[];
  /** The tokens the model scores; others are ignored, as multinomial NB usually does. */
  vocabulary: string[];
  /** log P(label). */
  logPriors: number[];
  /** log P(token | label), `[label][token]`, smoothed. */
  logLikelihoods: number[][];
  alpha: number;
  documents: number;
}

export interface TrainOptions {
  /** Keep the tokens found in most documents. @default 20000 */
  vocabularySize?: number;
  /** Laplace smoothing. @default 1 */
  alpha?: number;
}

export interface Prediction {
  label: string;
  /** Posterior probability (softmax of the log joint probabilities). */
  score: number;
}

/** Lowercase runs of letters and digits (Unicode), at most 40 long; longer runs are noise (base64, hashes). */
export function tokenize(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((t) => t.length <= 40);
}

/** Counts examples one at a time, so a corpus can be streamed through it. */
export class NaiveBayesTrainer {
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly documentFrequency = new Map<string, number>();
  private readonly documentsPerLabel = new Map<string, number>();
  private documents = 0;

  add(text: string, label: string): void {
    const tokens = tokenize(text);
    let counts = this.counts.get(label);
    if (!counts) this.counts.set(label, (counts = new Map()));
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const t of new Set(tokens)) this.documentFrequency.set(t, (this.documentFrequency.get(t) ?? 0) + 1);
    this.documentsPerLabel.set(label, (this.documentsPerLabel.get(label) ?? 0) + 1);
    this.documents++;
  }

  finish(opts: TrainOptions = {}): NaiveBayesModel {
    const alpha = opts.alpha ?? 1;
    if (this.documents === 0) throw new Error('naive Bayes: no training examples');
    if (!(alpha > 0)) throw new Error('naive Bayes: alpha must be positive');
    const vocabulary = [...this.documentFrequency]
      .sort(([a, da], [b, db]) => db - da || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, opts.vocabularySize ?? 20_000)
      .map(([token]) => token);
    const labels = [...this.counts.keys()].sort();
    const logLikelihoods = labels.map((label) => {
      const counts = this.counts.get(label)!;
      const perToken = vocabulary.map((t) => counts.get(t) ?? 0);
      const total = perToken.reduce((a, b) => a + b, 0);
      const denominator = Math.log(total + alpha * vocabulary.length);
      return perToken.map((c) => Math.log(c + alpha) - denominator);
    });
    const logPriors = labels.map((l) => Math.log(this.documentsPerLabel.get(l)! / this.documents));
    return {
      format: 'dyff-naive-bayes',
      version: 1,
      labels,
      vocabulary,
      logPriors,
      logLikelihoods,
      alpha,
      documents: this.documents,
    };
  }
}

export function train(
  examples: Iterable<{ text: string; label: string }>,
  opts?: TrainOptions,
): NaiveBayesModel {
  const trainer = new NaiveBayesTrainer();
  for (const e of examples) trainer.add(e.text, e.label);
  return trainer.finish(opts);
}

/** A predictor with the vocabulary indexed once; each call costs one pass over the text's tokens. */
export function createPredictor(model: NaiveBayesModel): (text: string) => Prediction[] {
  const index = new Map(model.vocabulary.map((t, i) => [t, i]));
  return (text) => {
    const joint = [...model.logPriors];
    for (const token of tokenize(text)) {
      const i = index.get(token);
      if (i === undefined) continue;
      for (let l = 0; l < joint.length; l++) joint[l]! += model.logLikelihoods[l]![i]!;
    }
    const max = Math.max(...joint);
    const exp = joint.map((j) => Math.exp(j - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    return model.labels
      .map((label, l) => ({ label, score: exp[l]! / sum }))
      .sort((a, b) => b.score - a.score || (a.label < b.label ? -1 : 1));
  };
}

export function predict(model: NaiveBayesModel, text: string): Prediction[] {
  return createPredictor(model)(text);
}

/** Checks that parsed JSON is a model this code can use; the message says what is wrong. */
export function parseModel(doc: unknown): NaiveBayesModel {
  const m = doc as Partial<NaiveBayesModel> | null;
  if (!m || m.format !== 'dyff-naive-bayes' || m.version !== 1) {
    throw new Error('not a dyff-naive-bayes version 1 model');
  }
  const labels = m.labels ?? [];
  const size = m.vocabulary?.length ?? -1;
  const ok =
    labels.length > 0 &&
    m.logPriors?.length === labels.length &&
    m.logLikelihoods?.length === labels.length &&
    m.logLikelihoods.every((row) => Array.isArray(row) && row.length === size);
  if (!ok)
    throw new Error('model.json: labels, logPriors, logLikelihoods and vocabulary do not agree in size');
  return m as NaiveBayesModel;
}
