import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NaiveBayesTrainer } from '../../src/model/naive-bayes.js';

const WORDS: Record<string, string[]> = {
  spam: ['winner', 'prize', 'cash', 'offer', 'free', 'click'],
  ham: ['meeting', 'agenda', 'minutes', 'project', 'review', 'schedule'],
  news: ['election', 'weather', 'market', 'report', 'city', 'council'],
};

/**
 * A small labelled corpus in folders (one text file per message) and a naive Bayes model trained on it: enough for
 * a whole pipeline to run in seconds with real steps and a real model server.
 */
export async function tinyCorpus(
  dir: string,
  perLabel = 12,
): Promise<{ dataDir: string; modelDir: string; rows: number }> {
  const dataDir = join(dir, 'corpus');
  const trainer = new NaiveBayesTrainer();
  for (const [label, words] of Object.entries(WORDS)) {
    await mkdir(join(dataDir, label), { recursive: true });
    for (let i = 0; i < perLabel; i++) {
      const text =
        Array.from({ length: 8 }, (_, j) => words[(i * 3 + j) % words.length]).join(' ') + ` message ${i}`;
      await writeFile(join(dataDir, label, `${String(i).padStart(4, '0')}.txt`), text);
      trainer.add(text, label);
    }
  }
  const modelDir = join(dir, 'model');
  await mkdir(modelDir, { recursive: true });
  await writeFile(join(modelDir, 'model.json'), JSON.stringify(trainer.finish()));
  return { dataDir, modelDir, rows: perLabel * Object.keys(WORDS).length };
}
