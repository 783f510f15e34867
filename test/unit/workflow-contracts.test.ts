import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STEP_NAMES } from '../../src/domain/step-catalogue.js';
import { NOT_CREATED, SERVICE_ACCOUNTS } from '../../src/gcp/iam-plan.js';

/*
 * Workflows run steps through the step catalogue and name objects through the object layout (src/domain): a
 * workflow file that builds step arguments, names a service account or spells out an object key fails here.
 */
const WORKFLOWS = resolve(import.meta.dirname, '../../src/workflows');
const ACCOUNTS = [...SERVICE_ACCOUNTS.map((s) => s.name), ...Object.keys(NOT_CREATED)];
const quoted = (names: readonly string[]) => names.map((n) => n.replace(/[-]/g, '\\-')).join('|');

const RULES: { what: string; re: RegExp }[] = [
  { what: 'a step option (arguments come from stepArgs)', re: /['"`]--[a-z]/ },
  {
    what: 'an argument array led by a step name',
    re: new RegExp(`\\[\\s*['"\`](?:${quoted(STEP_NAMES)})['"\`]`),
  },
  {
    what: 'a service account name (identities come from the catalogue)',
    re: new RegExp(`['"\`](?:${quoted(ACCOUNTS)})['"\`]`),
  },
  {
    what: 'an object key (keys come from object-layout.ts)',
    re: /\bkey:\s*['"`]|\$\{[^}]+\}\/[\w.]|['"`/](?:[\w-]+\/)*[\w-]+\.(?:json|parquet|html|txt)['"`]|\.dyff\//,
  },
];

/** Code without comments, so that documentation may still show what a key looks like. */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

function violations(text: string): string[] {
  const found: string[] = [];
  code(text)
    .split('\n')
    .forEach((line, i) => {
      for (const { what, re } of RULES)
        if (re.test(line)) found.push(`line ${i + 1}: ${what}: ${line.trim()}`);
    });
  return found;
}

describe('workflow files', () => {
  it('build no step arguments, name no service account and write no object key by hand', () => {
    const files = readdirSync(WORKFLOWS).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      expect({ file, violations: violations(readFileSync(join(WORKFLOWS, file), 'utf8')) }).toEqual({
        file,
        violations: [],
      });
    }
  });

  it('the rules catch the hand-built forms they replace', () => {
    const before = [
      "    await life.runStep('fetch', ['fetch-data', '--id', id, '--spec', specArg], 'FetchFailed', {",
      "      serviceAccount: 'data-fetcher',",
      "    const m = await state.readJson({ category: 'models', key: `${input.id}/manifest.json` });",
      "    throw new StageFailure('Unverified', `outputs/${id}/verified/summary.json was not written`);",
      '    const log = `${id}/.dyff/logs.txt`;',
    ];
    for (const line of before)
      expect({ line, caught: violations(line).length > 0 }).toEqual({ line, caught: true });
    // What the workflows write instead passes.
    expect(violations("    await life.runJob('fetch-data', { id, spec }, 'FetchFailed');")).toEqual([]);
    expect(violations('    const summary = await state.readJson(artifactRefs.verifySummary(id));')).toEqual(
      [],
    );
  });
});
