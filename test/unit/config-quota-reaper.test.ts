import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const env = (vars: Record<string, string>) => ({ DYFF_CONFIG: '/nonexistent/dyff.config.yaml', ...vars });

it('quota and reaper settings default, and come from DYFF_* variables as numbers', () => {
  expect(loadConfig({}, env({}))).toMatchObject({
    quota: { concurrency: 4, checkSeconds: 60 },
    reaper: { periodSeconds: 60 },
  });
  const config = loadConfig(
    {},
    env({ DYFF_QUOTA_CONCURRENCY: '2', DYFF_QUOTA_CHECK_SECONDS: '5', DYFF_REAPER_PERIOD_SECONDS: '0' }),
  );
  expect(config).toMatchObject({ quota: { concurrency: 2, checkSeconds: 5 }, reaper: { periodSeconds: 0 } });
});

it('a bad quota or reaper setting is refused, naming the field', () => {
  expect(() => loadConfig({}, env({ DYFF_QUOTA_CONCURRENCY: 'two' }))).toThrow(/quota\.concurrency/);
  expect(() => loadConfig({}, env({ DYFF_REAPER_PERIOD_SECONDS: '-1' }))).toThrow(/reaper\.periodSeconds/);
});
