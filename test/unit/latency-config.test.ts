import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { dynamicConfigArgs, LATENCY_DYNAMIC_CONFIG } from '../../src/dev/latency.js';

const root = resolve(import.meta.dirname, '../..');

it('the compose stack runs its Temporal server with the same latency settings as the dev servers', () => {
  const file = parse(readFileSync(resolve(root, 'deploy/temporal-dynamicconfig.yaml'), 'utf8')) as Record<
    string,
    Array<{ value: unknown }>
  >;
  expect(Object.fromEntries(Object.entries(file).map(([k, v]) => [k, v[0]?.value]))).toEqual(
    LATENCY_DYNAMIC_CONFIG,
  );
  const compose = readFileSync(resolve(root, 'docker-compose.yml'), 'utf8');
  expect(compose).toContain(
    './deploy/temporal-dynamicconfig.yaml:/etc/temporal/config/dynamicconfig/dyff.yaml',
  );
  expect(compose).toContain('DYNAMIC_CONFIG_FILE_PATH: /etc/temporal/config/dynamicconfig/dyff.yaml');
});

it('dev server arguments carry each value as key=value', () => {
  expect(dynamicConfigArgs({ 'a.b': 1, 'c.d': true })).toEqual([
    '--dynamic-config-value',
    'a.b=1',
    '--dynamic-config-value',
    'c.d=true',
  ]);
});
