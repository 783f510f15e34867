import { execFile } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Debian's package; `DYFF_CHROMIUM` points elsewhere (e.g. a Chrome for Testing build). */
export const CHROMIUM = process.env.DYFF_CHROMIUM ?? '/usr/bin/chromium';

export const chromiumPresent = () =>
  access(CHROMIUM).then(
    () => true,
    () => false,
  );

/**
 * Runs headless Chromium once with a throwaway profile. Everything that would reach the network on its own
 * (updates, sync, safe browsing lists) is off: the machine has no internet and the page must not need it.
 */
/** Headless, and nothing that would reach the network on its own. */
export const CHROMIUM_SWITCHES = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--hide-scrollbars',
];

export async function chromium(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const profile = await mkdtemp(join(tmpdir(), 'dyff-chromium-'));
  try {
    return await promisify(execFile)(
      CHROMIUM,
      ['--headless', ...CHROMIUM_SWITCHES, `--user-data-dir=${profile}`, ...args],
      { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
    );
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}
