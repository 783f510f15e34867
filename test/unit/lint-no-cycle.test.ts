import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = resolve(ROOT, 'test/fixtures/import-cycle');

describe('eslint: import-x/no-cycle', () => {
  // The rule fails silently when the resolver cannot map `./x.js` to `./x.ts`: this proves it still sees a cycle.
  it(
    'reports the deliberate cycle a → b → a through NodeNext `.js` imports',
    { timeout: 120_000 },
    async () => {
      const eslint = new ESLint({ cwd: ROOT, ignore: false });
      const results = await eslint.lintFiles([resolve(FIXTURE, 'a.ts'), resolve(FIXTURE, 'b.ts')]);
      const cycles = results.map((r) => ({
        file: r.filePath.slice(FIXTURE.length + 1),
        rules: r.messages.map((m) => m.ruleId),
      }));
      expect(cycles).toEqual([
        { file: 'a.ts', rules: ['import-x/no-cycle'] },
        { file: 'b.ts', rules: ['import-x/no-cycle'] },
      ]);
    },
  );
});
